export { encodeNpy, encodeNpz } from '../../synthetic/npzWrite';

/** float32 array bytes. */
export function f32(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** int64 array bytes. */
export function i64(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
}
