/**
 * Element types of checkpoint tensors (the safetensors names, which torch storages map onto) and
 * the conversions a soup needs: any float type to float32 / float64 for averaging, and float32
 * back to F16 / BF16 with round-to-nearest-even, bit-identical to PyTorch's
 * `t.float().to(torch.bfloat16)` / `.to(torch.float16)`. NaN and ±Inf are kept.
 */
import { SAFETENSORS_DTYPE_SIZES, type SafetensorsDtype, type TensorData } from './safetensors';

/** A tensor element type, spelled as in safetensors headers. */
export type TensorDtype = SafetensorsDtype;

/** The float types a soup averages; every other dtype is carried over, never averaged. */
export type FloatDtype = 'F64' | 'F32' | 'F16' | 'BF16';

/** True for the dtypes that are averaged (F64, F32, F16, BF16). */
export function isFloatDtype(dtype: TensorDtype): dtype is FloatDtype {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Bytes per element. */
export function dtypeSize(dtype: TensorDtype): number {
  return SAFETENSORS_DTYPE_SIZES[dtype];
}

/** A typed array over `bytes` (which must be aligned to the element size) in the dtype's own layout. */
export function viewAsDtype(dtype: TensorDtype, bytes: Uint8Array): TensorData {
  const { buffer, byteOffset } = bytes;
  const count = bytes.byteLength / dtypeSize(dtype);
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, count);
    case 'F32': return new Float32Array(buffer, byteOffset, count);
    case 'I64': return new BigInt64Array(buffer, byteOffset, count);
    case 'U64': return new BigUint64Array(buffer, byteOffset, count);
    case 'I32': return new Int32Array(buffer, byteOffset, count);
    case 'U32': return new Uint32Array(buffer, byteOffset, count);
    case 'I16': return new Int16Array(buffer, byteOffset, count);
    case 'U16': case 'F16': case 'BF16': return new Uint16Array(buffer, byteOffset, count);
    case 'I8': return new Int8Array(buffer, byteOffset, count);
    case 'U8': case 'BOOL': case 'F8_E4M3': case 'F8_E5M2': return new Uint8Array(buffer, byteOffset, count);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float value of an IEEE half-precision bit pattern. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** The float value of a bfloat16 bit pattern (the top half of a float32). */
export function bf16ToNumber(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN, as in PyTorch. */
export function float32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> IEEE half bits, round to nearest even (subnormals, overflow to ±Inf, NaN kept). */
export function float32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  // Unbiased exponent; half normals cover [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal half: keep 10 mantissa bits, round the 13 dropped ones to nearest even.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
    return sign | h; // a carry into the exponent is the correct rounding (up to Inf)
  }
  if (e < -25) return sign; // below half the smallest subnormal: rounds to zero
  // Subnormal half: the value is m * 2^-24 with m = full mantissa >> shift.
  const full = mant | 0x800000;
  const shift = -e - 14 + 13;
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1))) h++;
  return sign | h;
}

/** Converts elements of a float dtype (raw layout from {@link viewAsDtype}) into `out`. */
export function floatsInto(dtype: FloatDtype, src: TensorData, out: Float32Array | Float64Array): void {
  const n = out.length;
  if (src.length !== n) throw new RangeError(`converting ${src.length} elements into ${n}`);
  switch (dtype) {
    case 'F32': case 'F64':
      out.set(src as Float32Array | Float64Array);
      return;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToNumber((src as Uint16Array)[i]);
      return;
    case 'BF16': {
      // bf16 bits are the top half of the float32: widen through a Uint32 view in one pass.
      const wide = new Uint32Array(n);
      const s = src as Uint16Array;
      for (let i = 0; i < n; i++) wide[i] = s[i] << 16;
      out.set(new Float32Array(wide.buffer));
      return;
    }
  }
}

/** Rounds float values (float32 or float64; float64 is rounded to float32 first) to F16 / BF16 bits. */
export function roundToHalf(dtype: 'F16' | 'BF16', values: Float32Array | Float64Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const to = dtype === 'BF16' ? float32ToBf16 : float32ToF16;
  for (let i = 0; i < values.length; i++) out[i] = to(values[i]);
  return out;
}
