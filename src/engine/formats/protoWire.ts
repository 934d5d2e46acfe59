/** Protobuf wire-format encoding helpers for the ONNX bytes the engine assembles itself. */

/** A base-128 varint (exact for integers up to 2^53). */
export function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** A field key: field number and wire type. */
export function tag(fieldNum: number, wireType: number): Buffer {
  return varint(fieldNum * 8 + wireType);
}

/** A length-delimited field (sub-message, bytes or string). */
export function lengthDelimited(fieldNum: number, body: Uint8Array): Buffer {
  return Buffer.concat([tag(fieldNum, 2), varint(body.length), body]);
}
