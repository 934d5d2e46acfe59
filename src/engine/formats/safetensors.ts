/**
 * safetensors reader (https://github.com/huggingface/safetensors, format of `tensor.rs`):
 *
 *     [u64 little-endian N][N bytes of UTF-8 JSON header][data region]
 *
 * The header maps tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative
 * to the start of the data region) plus an optional `__metadata__` string->string map. The header
 * is read first, by file descriptor, and checked completely; tensors are then read on demand, so
 * files larger than 2 GB never have to be read in one call.
 *
 * Each failure kind has one message (thrown as SoupError `SAFETENSORS_INVALID`, naming the file):
 *
 * | kind | message |
 * |---|---|
 * | `file-too-small` | `file is N bytes, too small for the 8-byte header length` |
 * | `header-too-large` | `header length N exceeds the limit of 100000000 bytes` |
 * | `header-past-end` | `header length N runs past the end of the file (M bytes)` |
 * | `header-not-json` | `header is not valid UTF-8 JSON (...)` |
 * | `header-not-object` | `header is not a JSON object of tensors` |
 * | `metadata-invalid` | `__metadata__ must map strings to strings` |
 * | `tensor-entry-invalid` | `tensor "x": expected {dtype, shape, data_offsets}` |
 * | `unknown-dtype` | `tensor "x": unknown dtype "D" (known: ...)` |
 * | `shape-invalid` | `tensor "x": shape must be an array of non-negative integers` |
 * | `offsets-invalid` | `tensor "x": data_offsets must be [begin, end] integers with begin <= end` |
 * | `offsets-out-of-range` | `tensor "x": data_offsets [b, e] run past the end of the data region (N bytes)` |
 * | `offsets-overlap` | `tensor "x": data_offsets [b, e] overlap tensor "y" [b2, e2]` |
 * | `offsets-gap` | `bytes [b, e) of the data region belong to no tensor` |
 * | `size-mismatch` | `tensor "x": shape [..] of DTYPE needs N bytes but data_offsets span M` |
 */
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import { SoupError } from '../errors';
import { isRecord } from '../../shared/validation';
import { openForReading, readAt } from './positionedRead';

/** Header size limit, as in the reference implementation (`MAX_HEADER_SIZE`). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines. */
export const SAFETENSORS_DTYPE_SIZES = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const;

/** A dtype name as written in safetensors headers. */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** The failure kinds of the module table above. */
export type SafetensorsFailure =
  | 'file-too-small' | 'header-too-large' | 'header-past-end' | 'header-not-json' | 'header-not-object'
  | 'metadata-invalid' | 'tensor-entry-invalid' | 'unknown-dtype' | 'shape-invalid' | 'offsets-invalid'
  | 'offsets-out-of-range' | 'offsets-overlap' | 'offsets-gap' | 'size-mismatch';

/** A SAFETENSORS_INVALID SoupError that also says which check failed. */
export class SafetensorsError extends SoupError {
  constructor(readonly kind: SafetensorsFailure, problem: string, file: string) {
    super('SAFETENSORS_INVALID', problem, file);
  }
}

/** One tensor as described by the header. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** `[begin, end]` as written, relative to the data region. */
  dataOffsets: [number, number];
  /** Absolute byte position of the tensor in the file. */
  fileOffset: number;
  byteLength: number;
}

/** A checked header. */
export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** The JSON header's length N (the data region starts at 8 + N). */
  headerLength: number;
  dataStart: number;
  metadata: Record<string, string>;
  /** Tensors in file order (ascending offsets). */
  tensors: SafetensorsTensorInfo[];
}

/**
 * Tensor values as a typed-array view in the dtype's own layout. F16, BF16 give the raw 16-bit
 * patterns (Uint16Array); F8_* and BOOL give bytes (Uint8Array).
 */
export type TensorData =
  | Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array
  | BigUint64Array | Uint32Array | Uint16Array | Uint8Array;

/** A tensor with its values. */
export interface SafetensorsTensor extends SafetensorsTensorInfo {
  data: TensorData;
}

/** Reads and checks the header of a safetensors file without reading any tensor data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openForReading(file);
  try {
    return await readHeaderFrom(handle, file);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a whole safetensors file: its header and every tensor (or only those in `names`), in
 * file order. Each tensor is read with its own positioned reads.
 */
export async function readSafetensors(file: string, names?: readonly string[]): Promise<{ header: SafetensorsHeader; tensors: SafetensorsTensor[] }> {
  const handle = await openForReading(file);
  try {
    const header = await readHeaderFrom(handle, file);
    const wanted = names ? new Set(names) : undefined;
    const tensors: SafetensorsTensor[] = [];
    for (const info of header.tensors) {
      if (!wanted || wanted.has(info.name)) tensors.push({ ...info, data: await readTensorFrom(handle, file, info) });
    }
    return { header, tensors };
  } finally {
    await handle.close();
  }
}

/** Reads one tensor described by a header from {@link readSafetensorsHeader}. */
export async function readSafetensorsTensor(header: SafetensorsHeader, name: string): Promise<SafetensorsTensor> {
  const info = header.tensors.find((t) => t.name === name);
  if (!info) throw new SoupError('SAFETENSORS_INVALID', `no tensor named "${name}"`, header.file);
  const handle = await openForReading(header.file);
  try {
    const stat = await handle.stat();
    if (stat.size !== header.fileSize) throw new SoupError('READ_FAILED', 'file changed since its header was read', header.file);
    return { ...info, data: await readTensorFrom(handle, header.file, info) };
  } finally {
    await handle.close();
  }
}

/**
 * Checks a parsed header against the data region size and returns the tensors in file order.
 * Exposed for tests and for callers that already hold the header bytes.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number, file: string): { metadata: Record<string, string>; tensors: Omit<SafetensorsTensorInfo, 'fileOffset'>[] } {
  const fail = (kind: SafetensorsFailure, problem: string): never => {
    throw new SafetensorsError(kind, problem, file);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    return fail('header-not-json', `header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isRecord(parsed)) return fail('header-not-object', 'header is not a JSON object of tensors');

  const metadata: Record<string, string> = {};
  const tensors: Omit<SafetensorsTensorInfo, 'fileOffset'>[] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || Object.values(entry).some((v) => typeof v !== 'string')) {
        fail('metadata-invalid', '__metadata__ must map strings to strings');
      }
      Object.assign(metadata, entry);
      continue;
    }
    if (!isRecord(entry) || !('dtype' in entry) || !('shape' in entry) || !('data_offsets' in entry)) {
      return fail('tensor-entry-invalid', `tensor "${name}": expected {dtype, shape, data_offsets}`);
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZES, dtype)) {
      return fail('unknown-dtype', `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(', ')})`);
    }
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
      return fail('shape-invalid', `tensor "${name}": shape must be an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offsets[0] > offsets[1]) {
      return fail('offsets-invalid', `tensor "${name}": data_offsets must be [begin, end] integers with begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) {
      fail('offsets-out-of-range', `tensor "${name}": data_offsets [${begin}, ${end}] run past the end of the data region (${dataLength} bytes)`);
    }
    const itemSize = SAFETENSORS_DTYPE_SIZES[dtype as SafetensorsDtype];
    const needed = (shape as number[]).reduce((n, d) => n * d, 1) * itemSize;
    if (!Number.isSafeInteger(needed) || needed !== end - begin) {
      fail('size-mismatch', `tensor "${name}": shape [${shape.join(', ')}] of ${dtype} needs ${needed} bytes but data_offsets span ${end - begin}`);
    }
    tensors.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], dataOffsets: [begin, end], byteLength: end - begin });
  }

  // The tensors must tile the data region: sorted by offset, each starts where the previous ended.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let previous: (typeof tensors)[number] | undefined;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin < cursor && previous) {
      fail('offsets-overlap', `tensor "${t.name}": data_offsets [${begin}, ${end}] overlap tensor "${previous.name}" [${previous.dataOffsets[0]}, ${previous.dataOffsets[1]}]`);
    }
    if (begin > cursor) fail('offsets-gap', `bytes [${cursor}, ${begin}) of the data region belong to no tensor`);
    cursor = end;
    previous = t;
  }
  if (cursor !== dataLength) fail('offsets-gap', `bytes [${cursor}, ${dataLength}) of the data region belong to no tensor`);
  return { metadata, tensors };
}

async function readHeaderFrom(handle: FileHandle, file: string): Promise<SafetensorsHeader> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < 8) throw new SafetensorsError('file-too-small', `file is ${fileSize} bytes, too small for the 8-byte header length`, file);
  const lengthBytes = await readAt(handle, file, 0, 8);
  const declared = Buffer.from(lengthBytes.buffer, lengthBytes.byteOffset, 8).readBigUInt64LE(0);
  if (declared > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw new SafetensorsError('header-too-large', `header length ${declared} exceeds the limit of ${MAX_SAFETENSORS_HEADER_BYTES} bytes`, file);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError('header-past-end', `header length ${headerLength} runs past the end of the file (${fileSize} bytes)`, file);
  }
  const dataStart = 8 + headerLength;
  const headerBytes = await readAt(handle, file, 8, headerLength);
  const { metadata, tensors } = parseSafetensorsHeader(headerBytes, fileSize - dataStart, file);
  return {
    file,
    fileSize,
    headerLength,
    dataStart,
    metadata,
    tensors: tensors.map((t) => ({ ...t, fileOffset: dataStart + t.dataOffsets[0] })),
  };
}

async function readTensorFrom(handle: FileHandle, file: string, info: SafetensorsTensorInfo): Promise<TensorData> {
  if (os.endianness() !== 'LE') throw new SoupError('READ_FAILED', 'safetensors data is little-endian; this host is big-endian', file);
  const bytes = await readAt(handle, file, info.fileOffset, info.byteLength);
  return viewAs(info.dtype, bytes.buffer as ArrayBuffer, info.byteLength / SAFETENSORS_DTYPE_SIZES[info.dtype]);
}

function viewAs(dtype: SafetensorsDtype, buffer: ArrayBuffer, count: number): TensorData {
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, 0, count);
    case 'F32': return new Float32Array(buffer, 0, count);
    case 'I64': return new BigInt64Array(buffer, 0, count);
    case 'U64': return new BigUint64Array(buffer, 0, count);
    case 'I32': return new Int32Array(buffer, 0, count);
    case 'U32': return new Uint32Array(buffer, 0, count);
    case 'I16': return new Int16Array(buffer, 0, count);
    case 'U16': case 'F16': case 'BF16': return new Uint16Array(buffer, 0, count);
    case 'I8': return new Int8Array(buffer, 0, count);
    case 'U8': case 'BOOL': case 'F8_E4M3': case 'F8_E5M2': return new Uint8Array(buffer, 0, count);
  }
}

