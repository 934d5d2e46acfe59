import { promises as fsp } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { SoupError } from '../errors';
import { parseNpy, type NpyArray } from './npy';

/** Refuse archives that would inflate beyond this (zip bombs). */
export const MAX_NPZ_ENTRY_BYTES = 4 * 1024 ** 3 - 1;

/**
 * Reads the named arrays from an `.npz` archive (a zip of `.npy` files, stored or deflated, as
 * written by `np.savez` / `np.savez_compressed`). Entries are looked up as `<name>.npy`.
 * Throws SoupError NPZ_INVALID for a broken zip, a missing entry, an entry name with `..` or an
 * absolute path, an unsupported compression, or an entry that inflates beyond its declared size
 * or `maxEntryBytes`; NPY_INVALID for a bad array inside.
 */
export async function readNpz(file: string, names: string[], maxEntryBytes = MAX_NPZ_ENTRY_BYTES): Promise<Record<string, NpyArray>> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SoupError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'READ_FAILED', code === 'ENOENT' ? 'dataset file not found' : `cannot read (${code})`, file);
  }
  const entries = listZip(buf, file);
  const out: Record<string, NpyArray> = {};
  for (const name of names) {
    const entry = entries.get(`${name}.npy`);
    if (!entry) {
      throw new SoupError('NPZ_INVALID', `no array "${name}" in the archive (found: ${[...entries.keys()].join(', ') || 'nothing'})`, file);
    }
    out[name] = parseNpy(extract(buf, entry, file, maxEntryBytes), `${file} [${name}.npy]`);
  }
  return out;
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function listZip(buf: Buffer, file: string): Map<string, ZipEntry> {
  const fail = (problem: string): never => {
    throw new SoupError('NPZ_INVALID', problem, file);
  };
  // End of central directory: last 22 bytes plus an optional comment of up to 64 KiB.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a zip archive (.npz): end of central directory not found');
  let count = buf.readUInt16LE(eocd + 10);
  let cdSize = buf.readUInt32LE(eocd + 12);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    // Zip64: numpy writes it for large arrays.
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) fail('zip64 locator missing');
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    if (z64 + 56 > buf.length || buf.readUInt32LE(z64) !== 0x06064b50) fail('zip64 end record missing');
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdSize = Number(buf.readBigUInt64LE(z64 + 40));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  if (cdOffset + cdSize > buf.length) fail('central directory runs past the end of the file (truncated?)');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) fail('corrupt central directory');
    const method = buf.readUInt16LE(p + 10);
    let compressedSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen > buf.length) fail('corrupt central directory');
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    // Zip64 extra field carries the real sizes/offset when the 32-bit ones are saturated.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) { size = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) { compressedSize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (localOffset === 0xffffffff && q + 8 <= e + 4 + len) { localOffset = Number(buf.readBigUInt64LE(q)); }
      }
      e += 4 + len;
    }
    if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || name.split(/[\\/]/).includes('..')) {
      fail(`entry "${name}" has an absolute or parent path; refused`);
    }
    entries.set(name, { name, method, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function extract(buf: Buffer, entry: ZipEntry, file: string, maxEntryBytes: number): Uint8Array {
  const fail = (problem: string): never => {
    throw new SoupError('NPZ_INVALID', `entry "${entry.name}": ${problem}`, file);
  };
  const p = entry.localOffset;
  if (p + 30 > buf.length || buf.readUInt32LE(p) !== 0x04034b50) fail('local header missing (corrupt archive)');
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const end = start + entry.compressedSize;
  if (end > buf.length) fail('data runs past the end of the file (truncated?)');
  if (entry.size > maxEntryBytes) fail(`declares ${entry.size} bytes uncompressed, over the limit of ${maxEntryBytes}`);
  const raw = buf.subarray(start, end);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail('stored entry sizes disagree');
    return raw;
  }
  if (entry.method !== 8) return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  let out: Buffer;
  try {
    // Bound the output by the declared size: an entry that inflates further is a bomb or corrupt.
    out = inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ERR_BUFFER_TOO_LARGE' ? `inflates beyond its declared ${entry.size} bytes; refused` : `cannot inflate (${(err as Error).message})`);
  }
  if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, declared ${entry.size}`);
  return out;
}
