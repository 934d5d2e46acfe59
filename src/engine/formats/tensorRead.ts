/**
 * Where a checkpoint tensor's elements are, whatever the format (safetensors, torch zip), and the
 * positioned reads that materialise it contiguous: a strided view (a slice, a transpose, tensors
 * sharing one storage) is gathered element by element from the bytes of its storage span; a
 * big-endian torch archive is byte-swapped. No read goes past the storage's declared size.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { SoupError } from '../errors';
import type { TensorData } from './safetensors';
import { dtypeSize, floatsInto, isFloatDtype, viewAsDtype, type TensorDtype } from './tensorDtypes';
import { readAt } from './positionedRead';

/** One tensor of a checkpoint: its type, shape and where its elements are. Nothing is read yet. */
export interface TensorEntry {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  numel: number;
  /** The file holding the bytes (a safetensors file or shard, a torch zip). */
  file: string;
  /** Absolute byte position of element 0 of the storage (safetensors: of the tensor). */
  dataOffset: number;
  /** Elements of the storage (reads stay inside `dataOffset + storageNumel * itemSize`). */
  storageNumel: number;
  /** Offset of the tensor's first element in the storage, in elements. */
  storageOffset: number;
  /** Row-major strides in elements (contiguous for safetensors). */
  strides: number[];
  /** Torch storage key (`data/<key>` of the archive): entries with the same key share bytes. */
  storageKey?: string;
  /** Torch archives written on big-endian machines (`byteorder` = big). */
  bigEndian?: boolean;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when the entry's elements are one contiguous row-major run (size-1 dims ignored). */
export function isContiguous(entry: Pick<TensorEntry, 'shape' | 'strides'>): boolean {
  let expected = 1;
  for (let i = entry.shape.length - 1; i >= 0; i--) {
    if (entry.shape[i] !== 1 && entry.strides[i] !== expected) return false;
    expected *= entry.shape[i];
  }
  return true;
}

/** Values of a tensor as read: float32 for F32/F16/BF16, float64 for F64, the integer type otherwise. */
export type TensorValues = TensorData;

/**
 * Reads tensors with positioned reads, keeping one handle per file open until {@link close}.
 * Every method throws SoupError READ_FAILED / INGREDIENT_CHANGED naming the file when the bytes
 * are not there.
 */
export class TensorReader {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  /** Contiguous elements in the dtype's own layout (F16 / BF16 as raw Uint16 bits). */
  async readRaw(entry: TensorEntry): Promise<TensorData> {
    const size = dtypeSize(entry.dtype);
    const handle = await this.open(entry.file);
    const bytes = isContiguous(entry)
      ? await readAt(handle, entry.file, entry.dataOffset + entry.storageOffset * size, entry.numel * size)
      : await gather(handle, entry, size);
    if (entry.bigEndian && size > 1) swapBytes(bytes, size);
    return viewAsDtype(entry.dtype, bytes);
  }

  /** The tensor materialised: F32/F16/BF16 as Float32Array, F64 as Float64Array, integers in their own type. */
  async read(entry: TensorEntry): Promise<TensorValues> {
    const raw = await this.readRaw(entry);
    if (entry.dtype !== 'F16' && entry.dtype !== 'BF16') return raw;
    const out = new Float32Array(entry.numel);
    floatsInto(entry.dtype, raw, out);
    return out;
  }

  /** A float tensor as float64 (what averaging sums in). Throws for integer tensors. */
  async readFloat64(entry: TensorEntry): Promise<Float64Array> {
    if (!isFloatDtype(entry.dtype)) throw new SoupError('INCOMPATIBLE', `tensor "${entry.name}" is ${entry.dtype}, not a float tensor`, entry.file);
    const out = new Float64Array(entry.numel);
    floatsInto(entry.dtype, await this.readRaw(entry), out);
    return out;
  }

  /** Closes every file this reader opened. */
  async close(): Promise<void> {
    const opened = await Promise.allSettled(this.handles.values());
    this.handles.clear();
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
  }

  private open(file: string): Promise<FileHandle> {
    let h = this.handles.get(file);
    if (!h) {
      h = fsp.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new SoupError('INGREDIENT_CHANGED', 'the file disappeared after it was read', file);
        throw new SoupError('READ_FAILED', `cannot open (${err.code ?? err.message})`, file);
      });
      this.handles.set(file, h);
    }
    return h;
  }
}

/** A strided view: reads the storage span it touches, then copies its elements in row-major order. */
async function gather(handle: FileHandle, entry: TensorEntry, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(entry.numel * size);
  if (entry.numel === 0) return out;
  let last = entry.storageOffset;
  for (let i = 0; i < entry.shape.length; i++) last += (entry.shape[i] - 1) * entry.strides[i];
  if (last >= entry.storageNumel) {
    throw new SoupError('READ_FAILED', `tensor "${entry.name}" reaches element ${last} of a storage of ${entry.storageNumel}`, entry.file);
  }
  const span = await readAt(handle, entry.file, entry.dataOffset + entry.storageOffset * size, (last - entry.storageOffset + 1) * size);
  const rank = entry.shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let n = 0; n < entry.numel; n++) {
    out.set(span.subarray(src * size, src * size + size), n * size);
    // Odometer over the multi-index, moving `src` by the strides.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += entry.strides[d];
      if (index[d] < entry.shape[d]) break;
      src -= entry.strides[d] * entry.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
