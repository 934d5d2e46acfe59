import { readInputFile } from './readInput';
import * as zlib from 'node:zlib';
import { SoupError, throwIfAborted } from '../errors';
import { parseNpy, type NpyArray } from './npy';
import { DEFAULT_MAX_DATASET_MB, ReadBudget } from './readBudget';
import { clipText } from '../safeText';

/** Options for {@link readNpz}. */
export interface ReadNpzOptions {
  /** Memory budget for the file and its inflated members (default {@link DEFAULT_MAX_DATASET_MB} MiB). */
  budget?: ReadBudget;
  /** Checked between read and inflate chunks. */
  signal?: AbortSignal;
}

// Compressed bytes handed to zlib at a time: bounds the work between two cancellation checks.
const INFLATE_SLICE = 1 << 20;

// Deflate cannot expand by more than about 1032:1 (258-byte matches coded in 2 bits): an entry
// declaring more than that is corrupt or a bomb, and is refused before inflating anything.
const MAX_DEFLATE_RATIO = 1032;

/**
 * Reads the named arrays from an `.npz` archive (a zip of `.npy` files, stored or deflated, as
 * written by `np.savez` / `np.savez_compressed`). Entries are looked up as `<name>.npy`.
 * Throws SoupError NPZ_INVALID for a broken zip, a missing entry, an entry name with `..` or an
 * absolute path, an unsupported compression, an entry that inflates beyond its declared size
 * or declares more than deflate can produce from its compressed bytes, or a CRC-32 mismatch;
 * TOO_LARGE when the file or a member's declared size does not fit the budget (checked before
 * allocating; inflating stops at the declared size); NPY_INVALID for a bad array inside.
 */
export async function readNpz(file: string, names: string[], opts: ReadNpzOptions = {}): Promise<Record<string, NpyArray>> {
  const budget = opts.budget ?? ReadBudget.ofMegabytes(DEFAULT_MAX_DATASET_MB);
  const buf = await readInputFile(file, 'dataset file', { budget, signal: opts.signal });
  const entries = listZip(buf, file);
  const out: Record<string, NpyArray> = {};
  for (const name of names) {
    const entry = entries.get(`${name}.npy`);
    if (!entry) {
      const found = [...entries.keys()].map((n) => clipText(n)).join(', ');
      throw new SoupError('NPZ_INVALID', `no array "${name}" in the archive (found: ${found || 'nothing'})`, file);
    }
    out[name] = parseNpy(await extract(buf, entry, file, budget, opts.signal), `${file} [${name}.npy]`);
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
      fail(`entry "${clipText(name)}" has an absolute or parent path; refused`);
    }
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      fail(`entry "${name}": Zip64 sizes missing from its extra field (corrupt central directory)`);
    }
    entries.set(name, { name, method, crc, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

async function extract(buf: Buffer, entry: ZipEntry, file: string, budget: ReadBudget, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const fail = (problem: string): never => {
    throw new SoupError('NPZ_INVALID', `entry "${clipText(entry.name)}": ${problem}`, file);
  };
  const p = entry.localOffset;
  if (p + 30 > buf.length || buf.readUInt32LE(p) !== 0x04034b50) fail('local header missing (corrupt archive)');
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const end = start + entry.compressedSize;
  if (end > buf.length) fail('data runs past the end of the file (truncated?)');
  const raw = buf.subarray(start, end);
  let out: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail('stored entry sizes disagree');
    out = raw;
  } else if (entry.method === 8) {
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      fail(`declares ${entry.size} bytes uncompressed from ${entry.compressedSize} compressed, more than deflate can produce; refused`);
    }
    budget.reserve(entry.size, `archive member "${clipText(entry.name)}" (${entry.size} bytes declared)`, file);
    const inflated = await inflateBounded(raw, entry.size, signal);
    if (typeof inflated === 'string') return fail(inflated);
    out = inflated;
    if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, declared ${entry.size}`);
  } else {
    return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
  }
  const crc = crc32(out);
  if (crc !== entry.crc) fail(`CRC-32 mismatch (computed ${hex(crc)}, archive says ${hex(entry.crc)}): the data is corrupt`);
  return out;
}

/**
 * Inflates raw deflate data into a buffer of exactly the declared size, in slices, checking
 * `signal` between them. Output past the declared size stops the inflation at once (a bomb or
 * a corrupt entry). Returns the bytes, or the problem as text.
 */
async function inflateBounded(raw: Uint8Array, declared: number, signal: AbortSignal | undefined): Promise<Uint8Array | string> {
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
  for (let p = 0; p < raw.length && problem === undefined; p += INFLATE_SLICE) {
    if (signal?.aborted) {
      inflater.destroy();
      throwIfAborted(signal);
    }
    const slice = raw.subarray(p, Math.min(p + INFLATE_SLICE, raw.length));
    // Wait for zlib to take each slice: the output is consumed (and bounded) as it is produced.
    if (!inflater.write(slice)) await new Promise<void>((resolve) => inflater.once('drain', resolve).once('close', resolve));
  }
  if (problem === undefined) inflater.end();
  await finished;
  throwIfAborted(signal);
  return problem ?? out.subarray(0, filled);
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
