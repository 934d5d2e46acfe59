/**
 * The central directory of a zip archive, read with positioned reads (the archive itself is never
 * read whole, so multi-GB PyTorch checkpoints cost a few KiB to list). Handles ZIP64 (end record,
 * locator and the per-entry extra field) and archive comments. Entry names that are absolute or
 * hold `..` are refused, and every entry's data range must lie inside the file.
 *
 * Shared by PyTorch zip checkpoints (stored entries, 64-byte aligned data, read in place) and
 * `.npz` datasets (stored or deflated members read whole, under a memory budget).
 * Only regular files are opened: a FIFO or a device is refused without blocking.
 */
import type { FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { SoupError, throwIfAborted, type SoupErrorCode } from '../errors';
import { clipText } from '../safeText';
import { crc32 } from './crc32';
import { readAt } from './positionedRead';
import type { ReadBudget } from './readBudget';
import { openInputFile } from './readInput';

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
  /** Error code of every refusal about this archive (ZIP_INVALID unless opened with another). */
  code: SoupErrorCode;
}

/** Options: the error code for refusals, and bounds on what the directory may declare. */
export interface ZipOptions {
  code?: SoupErrorCode;
  /** Refuse directories with more entries than this (default 1,000,000). */
  maxEntries?: number;
  /** What the file is, for "<what> not found" (default "file"). */
  what?: string;
}

/** Bounds and context for {@link readZipEntry}. */
export interface ReadZipEntryOptions {
  /** Refuse an entry declaring more uncompressed bytes than this (the archive's code). */
  maxBytes?: number;
  /** The entry's declared size is reserved here before anything is allocated (TOO_LARGE). */
  budget?: ReadBudget;
  /** Checked between read and inflate slices (CANCELLED). */
  signal?: AbortSignal;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;
// Compressed bytes read and handed to zlib at a time: bounds memory and the work between two
// cancellation checks.
const INFLATE_SLICE = 1 << 20;
// Deflate cannot expand by more than about 1032:1 (258-byte matches coded in 2 bits): an entry
// declaring more than that is corrupt or a bomb, and is refused before inflating anything.
const MAX_DEFLATE_RATIO = 1032;

/**
 * Opens `file` and reads its central directory. Throws SoupError (`code`, default ZIP_INVALID)
 * naming the file for anything that is not a well-formed zip; FILE_NOT_FOUND / READ_FAILED when it
 * cannot be opened or is not a regular file. The caller must {@link closeZip} the result.
 */
export async function openZip(file: string, options: ZipOptions = {}): Promise<ZipDirectory> {
  const { fh: handle, size: fileSize } = await openInputFile(file, options.what ?? 'file');
  try {
    const entries = await readCentralDirectory(handle, file, fileSize, options);
    return { file, fileSize, entries, handle, code: options.code ?? 'ZIP_INVALID' };
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
 * Absolute file offset where an entry's bytes begin (after its local header), checked to lie
 * with the entry's whole compressed size inside the file.
 */
export async function entryDataOffset(zip: ZipDirectory, entry: ZipEntry): Promise<number> {
  const fail = entryFailure(zip, entry);
  if (entry.localOffset + 30 > zip.fileSize) fail('local header lies past the end of the file (truncated?)');
  const head = await readAt(zip.handle, zip.file, entry.localOffset, 30);
  const view = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (view.readUInt32LE(0) !== LOCAL_SIG) fail('local header missing (corrupt archive)');
  const start = entry.localOffset + 30 + view.readUInt16LE(26) + view.readUInt16LE(28);
  if (start + entry.compressedSize > zip.fileSize) fail(`data (${entry.compressedSize} bytes at ${start}) runs past the end of the file (truncated?)`);
  return start;
}

/**
 * Reads a whole entry into memory (stored or deflate) and checks its CRC-32. The declared size
 * is checked against `maxBytes` and reserved in `budget` before allocating; a deflated entry
 * declaring more than deflate can produce from its compressed bytes is refused, and inflation
 * stops at the declared size (a bomb costs nothing). Refusals carry the archive's code and name
 * the entry; TOO_LARGE over the budget; CANCELLED when `signal` aborts.
 */
export async function readZipEntry(zip: ZipDirectory, entry: ZipEntry, opts: ReadZipEntryOptions = {}): Promise<Buffer> {
  const fail = entryFailure(zip, entry);
  if (opts.maxBytes !== undefined && entry.size > opts.maxBytes) fail(`declares ${entry.size} bytes, over the limit of ${opts.maxBytes}`);
  if (entry.method === 0 && entry.compressedSize !== entry.size) fail('stored entry sizes disagree');
  if (entry.method === 8 && entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    fail(`declares ${entry.size} bytes uncompressed from ${entry.compressedSize} compressed, more than deflate can produce; refused`);
  }
  if (entry.method !== 0 && entry.method !== 8) fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  const start = await entryDataOffset(zip, entry);
  opts.budget?.reserve(entry.size, `archive member "${clipText(entry.name)}" (${entry.size} bytes declared)`, zip.file);
  let out: Buffer;
  if (entry.method === 0) {
    const raw = await readAt(zip.handle, zip.file, start, entry.compressedSize, opts.signal);
    out = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  } else {
    const inflated = await inflateBounded(zip, start, entry, opts.signal);
    if (typeof inflated === 'string') return fail(inflated);
    out = inflated;
    if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, declared ${entry.size}`);
  }
  const crc = crc32(out);
  if (crc !== entry.crc) fail(`CRC-32 mismatch (computed ${hex(crc)}, archive says ${hex(entry.crc)}): the data is corrupt`);
  return out;
}

function entryFailure(zip: ZipDirectory, entry: ZipEntry): (problem: string) => never {
  return (problem) => {
    throw new SoupError(zip.code, `zip entry "${clipText(entry.name)}": ${problem}`, zip.file);
  };
}

/**
 * Inflates an entry's raw deflate data, read from the file slice by slice, into a buffer of
 * exactly the declared size, checking `signal` between slices. Output past the declared size
 * stops the inflation at once (a bomb or a corrupt entry). Returns the bytes, or the problem.
 */
async function inflateBounded(zip: ZipDirectory, start: number, entry: ZipEntry, signal: AbortSignal | undefined): Promise<Buffer | string> {
  const declared = entry.size;
  const out = Buffer.allocUnsafe(declared);
  let filled = 0;
  let problem: string | undefined;
  const inflater = zlib.createInflateRaw();
  const finished = new Promise<void>((resolve) => {
    inflater.on('data', (chunk: Buffer) => {
      if (problem !== undefined) return;
      if (filled + chunk.length > declared) {
        problem = `inflates beyond its declared ${declared} bytes; refused`;
        inflater.destroy();
        resolve();
        return;
      }
      chunk.copy(out, filled);
      filled += chunk.length;
    });
    inflater.on('error', (err) => {
      problem ??= `cannot inflate (${err.message})`;
      resolve();
    });
    inflater.on('end', resolve);
    inflater.on('close', resolve);
  });
  try {
    for (let p = 0; p < entry.compressedSize && problem === undefined; p += INFLATE_SLICE) {
      throwIfAborted(signal);
      const slice = await readAt(zip.handle, zip.file, start + p, Math.min(INFLATE_SLICE, entry.compressedSize - p));
      // Wait for zlib to take each slice: the output is consumed (and bounded) as it is produced.
      if (problem === undefined && !inflater.write(slice)) await new Promise<void>((resolve) => inflater.once('drain', resolve).once('close', resolve));
    }
  } catch (err) {
    inflater.destroy();
    throw err;
  }
  if (problem === undefined) inflater.end();
  await finished;
  throwIfAborted(signal);
  return problem ?? out.subarray(0, filled);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
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
          return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`entry "${clipText(name)}": ZIP64 field declares an impossible value ${v}`) : Number(v);
        };
        if (size === 0xffffffff && q + 8 <= fieldEnd) size = next();
        if (compressedSize === 0xffffffff && q + 8 <= fieldEnd) compressedSize = next();
        if (localOffset === 0xffffffff && q + 8 <= fieldEnd) localOffset = next();
      }
      e += 4 + len;
    }
    if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || name.split(/[\\/]/).includes('..')) {
      fail(`zip entry "${clipText(name)}" has an absolute or parent path; refused`);
    }
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      fail(`zip entry "${clipText(name)}": ZIP64 sizes missing from its extra field (corrupt central directory)`);
    }
    if (localOffset + 30 + compressedSize > fileSize) fail(`zip entry "${clipText(name)}": data runs past the end of the file (truncated?)`);
    if (entries.has(name)) fail(`zip entry "${clipText(name)}" appears twice`);
    entries.set(name, { name, method, crc, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
