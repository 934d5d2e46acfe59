import * as assert from 'node:assert/strict';
import { bf16ToNumber, f16ToNumber, float32ToBf16, float32ToF16 } from '../../src/engine/formats/tensorDtypes';

describe('half-precision conversions', () => {
  it('round float32 to bfloat16 to nearest even, keeping NaN and infinities', () => {
    assert.equal(float32ToBf16(1), 0x3f80);
    // 1 + 2^-8 is exactly half way between 1 and the next bf16 (1 + 2^-7): ties to even (1).
    assert.equal(float32ToBf16(1 + 2 ** -8), 0x3f80);
    // 1 + 3 * 2^-8 is half way between 1 + 2^-7 (odd) and 1 + 2^-6: ties to even (up).
    assert.equal(float32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(float32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(float32ToBf16(Infinity), 0x7f80);
    assert.equal(float32ToBf16(-Infinity), 0xff80);
    assert.ok(Number.isNaN(bf16ToNumber(float32ToBf16(NaN))));
    // The largest float32 rounds up to infinity in bf16, as in PyTorch.
    assert.equal(float32ToBf16(3.4028234663852886e38), 0x7f80);
    assert.equal(bf16ToNumber(0xc020), -2.5);
  });

  it('round float32 to IEEE half to nearest even: normals, subnormals, overflow, NaN', () => {
    assert.equal(float32ToF16(1), 0x3c00);
    assert.equal(float32ToF16(65504), 0x7bff);
    assert.equal(float32ToF16(65520), 0x7c00); // half way to 2^16: ties to even = infinity
    assert.equal(float32ToF16(65519), 0x7bff);
    assert.equal(float32ToF16(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(float32ToF16(2 ** -25), 0x0000); // half of it: ties to even (0)
    assert.equal(float32ToF16(3 * 2 ** -25), 0x0002); // 1.5 ulp: ties to even (2)
    assert.equal(float32ToF16(2 ** -14 - 2 ** -25), 0x0400); // rounds up into the normals
    assert.equal(float32ToF16(1 + 2 ** -11), 0x3c00); // tie: even
    assert.equal(float32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie: even (up)
    assert.equal(float32ToF16(-0), 0x8000);
    assert.equal(float32ToF16(-Infinity), 0xfc00);
    assert.ok(Number.isNaN(f16ToNumber(float32ToF16(NaN))));
  });

  it('widen every half and bfloat16 bit pattern exactly and back', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16ToNumber(h);
      if (Number.isNaN(v)) continue;
      assert.equal(float32ToF16(v), h, `f16 ${h.toString(16)}`);
      const b = bf16ToNumber(h);
      if (!Number.isNaN(b)) assert.equal(float32ToBf16(b), h, `bf16 ${h.toString(16)}`);
    }
  });
});
