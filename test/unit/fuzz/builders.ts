import { crc32, deflateRawSync } from 'node:zlib';
import { zipCentralHeader, zipEnd, zipLocalHeader } from '../../synthetic/npzWrite';

/** An array to encode as `.npy`. */
export interface NpySpec {
  descr: string;
  shape: number[];
  data: Uint8Array;
  fortran?: boolean;
  /** Format major version (1, 2 or 3). */
  version?: number;
  /** Header text override (for malformed headers). */
  header?: string;
}

/** Encodes a `.npy` array the way `numpy.lib.format` writes it (header padded to 64 bytes). */
export function encodeNpy(a: NpySpec): Buffer {
  const version = a.version ?? 1;
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = a.header ?? `{'descr': '${a.descr}', 'fortran_order': ${a.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  const pad = (64 - ((pre + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, version === 3 ? 'utf8' : 'latin1'), Buffer.from(a.data)]);
}

/** One zip entry; `declaredSize` / `method` override what is written (for bombs and lies). */
export interface ZipEntrySpec {
  name: string;
  data: Buffer;
  deflate?: boolean;
  declaredSize?: number;
  method?: number;
}

/**
 * Writes a zip like `np.savez` / `np.savez_compressed`: each local header carries a Zip64 extra
 * field (numpy opens entries with force_zip64), the central directory has plain 32-bit sizes.
 */
export function encodeZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const size = e.declaredSize ?? e.data.length;
    const method = e.method ?? (e.deflate ? 8 : 0);
    const crc = crc32(e.data);
    const extra = Buffer.alloc(20);
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(16, 2);
    extra.writeBigUInt64LE(BigInt(size), 4);
    extra.writeBigUInt64LE(BigInt(body.length), 12);
    const fields = { version: 45, method, crc, compressedSize: body.length, size, nameLength: name.length };
    // numpy's local headers defer both sizes to the Zip64 extra; its central directory does not.
    const local = zipLocalHeader({ ...fields, compressedSize: 0xffffffff, size: 0xffffffff }, extra.length);
    locals.push(local, name, extra, body);
    centrals.push(zipCentralHeader(fields, offset), name);
    offset += local.length + name.length + extra.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = zipEnd(entries.length, cd.length, offset);
  return Buffer.concat([...locals, cd, eocd]);
}

/** A small valid dataset: x (n, 2, 3) float32, y (n,) int64. */
export function smallDataset(n = 4, deflate = true): Buffer {
  const x = new Float32Array(n * 6).map((_, i) => i / 10);
  const y = new BigInt64Array(n).map((_, i) => BigInt(i % 3));
  return encodeZip([
    { name: 'x.npy', data: encodeNpy({ descr: '<f4', shape: [n, 2, 3], data: new Uint8Array(x.buffer) }), deflate },
    { name: 'y.npy', data: encodeNpy({ descr: '<i8', shape: [n], data: new Uint8Array(y.buffer) }), deflate },
  ]);
}

/** Builds a safetensors file from a header object and a data region. */
export function encodeSafetensors(header: unknown, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

/** A small valid safetensors file: two F32 tensors, one I64, with metadata. */
export function smallSafetensors(): Buffer {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([7, 8]);
  const c = new BigInt64Array([9n]);
  const data = Buffer.concat([Buffer.from(a.buffer), Buffer.from(b.buffer), Buffer.from(c.buffer)]);
  return encodeSafetensors({
    __metadata__: { format: 'pt' },
    'fc.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    'fc.bias': { dtype: 'F32', shape: [2], data_offsets: [24, 32] },
    steps: { dtype: 'I64', shape: [], data_offsets: [32, 40] },
  }, data);
}
