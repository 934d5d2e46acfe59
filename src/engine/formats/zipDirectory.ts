/**
 * The central directory of a zip archive, read with positioned reads (the archive itself is never
 * read whole, so multi-GB PyTorch checkpoints cost a few KiB to list). Handles ZIP64 (end record,
 * locator and the per-entry extra field) and archive comments. Entry names that are absolute or
 * hold `..` are refused, and every entry's data range must lie inside the file.
 *
 * Written for PyTorch zip checkpoints (stored entries, 64-byte aligned data) but independent of
 * them: `.npz` reading could share it (pass `code: 'NPZ_INVALID'`).
 */
import type { FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { SoupError, type SoupErrorCode } from '../errors';
import { crc32 } from './npz';
import { openForReading, readAt } from './positionedRead';

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate; others are listed but cannot be read. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localOffset: number;
}

/** Central directory of a zip file, with the handle kept open for reading entries. */
export interface ZipDirectory {
  file: string;
  fileSize: number;
  /** Entries by name, in central-directory order. */
  entries: Map<string, ZipEntry>;
  handle: FileHandle;
}

/** Options: the error code for refusals, and bounds on what the directory may declare. */
export interface ZipOptions {
  code?: SoupErrorCode;
  /** Refuse directories with more entries than this (default 1,000,000). */
  maxEntries?: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

/**
 * Opens `file` and reads its central directory. Throws SoupError (`code`, default ZIP_INVALID)
 * naming the file for anything that is not a well-formed zip; FILE_NOT_FOUND / READ_FAILED when it
 * cannot be opened. The caller must {@link closeZip} the result.
 */
export async function openZip(file: string, options: ZipOptions = {}): Promise<ZipDirectory> {
  const handle = await openForReading(file);
  try {
    const fileSize = (await handle.stat()).size;
    const entries = await readCentralDirectory(handle, file, fileSize, options);
    return { file, fileSize, entries, handle };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Closes the archive's file handle. */
export async function closeZip(zip: ZipDirectory): Promise<void> {
  await zip.handle.close();
}

/** True when the first bytes of `file` are a zip local header (`PK\x03\x04`) or an empty archive. */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/**
 * Absolute file offset where a stored entry's bytes begin (after its local header), checked to
 * lie with the entry's whole size inside the file.
 */
export async function entryDataOffset(zip: ZipDirectory, entry: ZipEntry, code: SoupErrorCode = 'ZIP_INVALID'): Promise<number> {
  const fail = (problem: string): never => {
    throw new SoupError(code, `zip entry "${entry.name}": ${problem}`, zip.file);
  };
  if (entry.localOffset + 30 > zip.fileSize) fail('local header lies past the end of the file (truncated?)');
  const head = await readAt(zip.handle, zip.file, entry.localOffset, 30);
  const view = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (view.readUInt32LE(0) !== LOCAL_SIG) fail('local header missing (corrupt archive)');
  const start = entry.localOffset + 30 + view.readUInt16LE(26) + view.readUInt16LE(28);
  if (start + entry.compressedSize > zip.fileSize) fail(`data (${entry.compressedSize} bytes at ${start}) runs past the end of the file (truncated?)`);
  return start;
}

/**
 * Reads a whole entry into memory (stored or deflate), at most `maxBytes` uncompressed, and
 * checks its CRC-32. For small entries (a pickle, a version file); tensor data is read in place.
 */
export async function readZipEntry(zip: ZipDirectory, entry: ZipEntry, maxBytes: number, code: SoupErrorCode = 'ZIP_INVALID'): Promise<Buffer> {
  const fail = (problem: string): never => {
    throw new SoupError(code, `zip entry "${entry.name}": ${problem}`, zip.file);
  };
  if (entry.size > maxBytes) fail(`declares ${entry.size} bytes, over the limit of ${maxBytes}`);
  const start = await entryDataOffset(zip, entry, code);
  const raw = Buffer.from(await readAt(zip.handle, zip.file, start, entry.compressedSize));
  let out: Buffer;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail('stored entry sizes disagree');
    out = raw;
  } else if (entry.method === 8) {
    try {
      out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (err) {
      return fail(`cannot inflate (${(err as Error).message})`);
    }
    if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, declared ${entry.size}`);
  } else {
    return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  }
  if (crc32(out) !== entry.crc) fail('CRC-32 mismatch: the data is corrupt');
  return out;
}

async function readCentralDirectory(handle: FileHandle, file: string, fileSize: number, options: ZipOptions): Promise<Map<string, ZipEntry>> {
  const code = options.code ?? 'ZIP_INVALID';
  const maxEntries = options.maxEntries ?? 1_000_000;
  const fail = (problem: string): never => {
    throw new SoupError(code, problem, file);
  };
  // End of central directory: the last 22 bytes plus a comment of up to 64 KiB.
  const tailLength = Math.min(fileSize, 22 + 0xffff + 20);
  const tailStart = fileSize - tailLength;
  const tail = Buffer.from(await readAt(handle, file, tailStart, tailLength));
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a zip archive: end of central directory not found');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR_SIG) fail('ZIP64 locator missing');
    const z64 = Number(tail.readBigUInt64LE(loc + 8));
    if (!Number.isSafeInteger(z64) || z64 + 56 > fileSize) fail('ZIP64 end record lies outside the file');
    const rec = Buffer.from(await readAt(handle, file, z64, 56));
    if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) fail('ZIP64 end record missing');
    const big = (at: number): number => {
      const v = rec.readBigUInt64LE(at);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`ZIP64 end record declares an impossible value ${v}`) : Number(v);
    };
    count = big(32);
    cdSize = big(40);
    cdOffset = big(48);
  }
  if (count > maxEntries) fail(`central directory declares ${count} entries, over the limit of ${maxEntries}`);
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) fail(`central directory of ${cdSize} bytes is over the limit of ${MAX_CENTRAL_DIRECTORY_BYTES}`);
  if (cdOffset + cdSize > fileSize) fail('central directory runs past the end of the file (truncated?)');
  const cd = Buffer.from(await readAt(handle, file, cdOffset, cdSize));
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) fail(`corrupt central directory (entry ${i} of ${count})`);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) fail(`corrupt central directory (entry ${i} runs past it)`);
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    // The ZIP64 extra field carries the real values of the saturated 32-bit ones, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        const fieldEnd = Math.min(e + 4 + len, extraEnd);
        let q = e + 4;
        const next = (): number => {
          const v = cd.readBigUInt64LE(q);
          q += 8;
          return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`entry "${name}": ZIP64 field declares an impossible value ${v}`) : Number(v);
        };
        if (size === 0xffffffff && q + 8 <= fieldEnd) size = next();
        if (compressedSize === 0xffffffff && q + 8 <= fieldEnd) compressedSize = next();
        if (localOffset === 0xffffffff && q + 8 <= fieldEnd) localOffset = next();
      }
      e += 4 + len;
    }
    if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || name.split(/[\\/]/).includes('..')) {
      fail(`zip entry "${name}" has an absolute or parent path; refused`);
    }
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      fail(`zip entry "${name}": ZIP64 sizes missing from its extra field (corrupt central directory)`);
    }
    if (localOffset + 30 + compressedSize > fileSize) fail(`zip entry "${name}": data runs past the end of the file (truncated?)`);
    if (entries.has(name)) fail(`zip entry "${name}" appears twice`);
    entries.set(name, { name, method, crc, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
