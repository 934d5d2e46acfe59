import { readInputFile } from './readInput';
import * as zlib from 'node:zlib';
import { SoupError } from '../errors';
import { parseNpy, type NpyArray } from './npy';

/** Refuse archives that would inflate beyond this (zip bombs). */
export const MAX_NPZ_ENTRY_BYTES = 4 * 1024 ** 3 - 1;

// Deflate cannot expand by more than about 1032:1 (258-byte matches coded in 2 bits): an entry
// declaring more than that is corrupt or a bomb, and is refused before inflating anything.
const MAX_DEFLATE_RATIO = 1032;

/**
 * Reads the named arrays from an `.npz` archive (a zip of `.npy` files, stored or deflated, as
 * written by `np.savez` / `np.savez_compressed`). Entries are looked up as `<name>.npy`.
 * Throws SoupError NPZ_INVALID for a broken zip, a missing entry, an entry name with `..` or an
 * absolute path, an unsupported compression, an entry that inflates beyond its declared size
 * or `maxEntryBytes` or declares more than deflate can produce from its compressed bytes, or a
 * CRC-32 mismatch; NPY_INVALID for a bad array inside.
 */
export async function readNpz(file: string, names: string[], maxEntryBytes = MAX_NPZ_ENTRY_BYTES): Promise<Record<string, NpyArray>> {
  const buf = await readInputFile(file, 'dataset file');
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
  crc: number;
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
    const crc = buf.readUInt32LE(p + 16);
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
        // The field must fit in the extra block (a corrupt length could point past the file).
        const fieldEnd = Math.min(e + 4 + len, extraEnd);
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= fieldEnd) { size = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (compressedSize === 0xffffffff && q + 8 <= fieldEnd) { compressedSize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (localOffset === 0xffffffff && q + 8 <= fieldEnd) { localOffset = Number(buf.readBigUInt64LE(q)); }
      }
      e += 4 + len;
    }
    if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || name.split(/[\\/]/).includes('..')) {
      fail(`entry "${name}" has an absolute or parent path; refused`);
    }
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      fail(`entry "${name}": Zip64 sizes missing from its extra field (corrupt central directory)`);
    }
    entries.set(name, { name, method, crc, compressedSize, size, localOffset });
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
  let out: Buffer;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail('stored entry sizes disagree');
    out = raw;
  } else if (entry.method === 8) {
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      fail(`declares ${entry.size} bytes uncompressed from ${entry.compressedSize} compressed, more than deflate can produce; refused`);
    }
    try {
      // Bound the output by the declared size: an entry that inflates further is a bomb or corrupt.
      out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(code === 'ERR_BUFFER_TOO_LARGE' ? `inflates beyond its declared ${entry.size} bytes; refused` : `cannot inflate (${(err as Error).message})`);
    }
    if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, declared ${entry.size}`);
  } else {
    return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  }
  const crc = crc32(out);
  if (crc !== entry.crc) fail(`CRC-32 mismatch (computed ${hex(crc)}, archive says ${hex(entry.crc)}): the data is corrupt`);
  return out;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

// zlib.crc32 exists from Node 20.15; older runtimes (and some Electron builds) get a table.
let crcTable: Uint32Array | undefined;
export function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
