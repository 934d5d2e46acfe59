import { SoupError } from '../errors';
import type { NpyArray } from '../formats/npy';
import { parseNpy } from '../formats/npy';
import { readNpz } from '../formats/npz';
import { readInputFile } from '../formats/readInput';
import * as path from 'node:path';
import { DEFAULT_MAX_DATASET_MB, ReadBudget } from '../formats/readBudget';
import type { DatasetSource } from '../config';
import { datasetLabel } from '../config';

/** An evaluation dataset in memory: inputs as float32 (scaled) or raw uint8, labels as int32. */
export interface Dataset {
  /** `heldout`, `test`, or the shift name. */
  key: string;
  /** Workspace-relative path as configured. */
  path: string;
  /** Absolute path. */
  file: string;
  /**
   * The inputs: float32, already scaled, or uint8 as stored (a quarter of the memory), which
   * {@link datasetBatch} converts and scales one batch at a time.
   */
  x: Float32Array | Uint8Array;
  /** Multiplier for uint8 `x` (1 for float `x`, which is stored scaled). */
  scale: number;
  /** Shape of `x`, first axis = examples. */
  xShape: number[];
  y: Int32Array;
  n: number;
}

/** Options for {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Memory budget of the dataset while it loads, in MiB (default {@link DEFAULT_MAX_DATASET_MB}). */
  maxDatasetMB?: number;
  /** Cancels the reads and the inflation. */
  signal?: AbortSignal;
}

/**
 * Loads arrays `x` and `y` from an `.npz` archive (or two `.npy` files), resolving paths against
 * the workspace. `x` may be float32, float64, float16 or uint8
 * (multiplied by `scale`, e.g. 1/255 for raw pixels); `y` any integer type. Everything it
 * allocates is checked against the memory budget first (TOO_LARGE, saying how to raise it).
 * Throws DATASET_MISMATCH when `x` and `y` disagree in length, `y` is not integer or holds a
 * label outside the int32 range (int64 labels are checked on their full value), or `x` holds
 * NaN or infinite values (they would give every model the same meaningless prediction).
 */
export async function loadDataset(key: string, src: DatasetSource, workspace: string, scale?: number, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const relPath = datasetLabel(src);
  const file = path.resolve(workspace, relPath);
  const budget = ReadBudget.ofMegabytes(opts.maxDatasetMB ?? DEFAULT_MAX_DATASET_MB);
  const read = { budget, signal: opts.signal };
  let arrays: Record<string, NpyArray>;
  if (typeof src === 'string') {
    if (src.toLowerCase().endsWith('.npy')) {
      throw new SoupError('DATASET_MISMATCH', 'a .npy file holds one array: give {"x": "<x>.npy", "y": "<y>.npy"}, or save both with np.savez(file, x=..., y=...)', file);
    }
    arrays = await readNpz(file, ['x', 'y'], read);
  } else {
    arrays = { x: await readNpyFile(file, read), y: await readNpyFile(path.resolve(workspace, src.y), read) };
  }
  const n = arrays.x.shape[0] ?? 0;
  if (arrays.x.shape.length < 2) throw new SoupError('DATASET_MISMATCH', `x has shape (${arrays.x.shape.join(', ')}); expected (N, ...features)`, file);
  if (arrays.y.shape.length !== 1 || arrays.y.shape[0] !== n) {
    throw new SoupError('DATASET_MISMATCH', `y has shape (${arrays.y.shape.join(', ')}) but x has ${n} examples; expected y of shape (${n},)`, file);
  }
  if (n === 0) throw new SoupError('DATASET_MISMATCH', 'dataset has no examples', file);
  const x = toInputs(arrays.x, scale, file, budget);
  const y = toLabels(arrays.y, file, budget);
  return { key, path: relPath, file, x, scale: x instanceof Uint8Array ? (scale as number) : 1, xShape: arrays.x.shape, y, n };
}

/** Loads a `.npy` file from disk (regular files only; `budget` and `signal` as for {@link readNpz}). */
export async function readNpyFile(file: string, opts: { budget?: ReadBudget; signal?: AbortSignal } = {}): Promise<NpyArray> {
  return parseNpy(await readInputFile(file, 'dataset file', opts), file);
}

/**
 * Examples `start .. start+count` of `ds` as float32, scaled: a view for float datasets, a
 * fresh converted batch for uint8 ones (so the whole set is never held as float32).
 */
export function datasetBatch(ds: Dataset, start: number, count: number): Float32Array {
  const per = ds.xShape.slice(1).reduce((a, b) => a * b, 1);
  const from = start * per;
  const to = (start + count) * per;
  if (ds.x instanceof Float32Array) return ds.x.subarray(from, to);
  const out = new Float32Array(to - from);
  for (let i = 0; i < out.length; i++) out[i] = ds.x[from + i] * ds.scale;
  return out;
}

function toInputs(a: NpyArray, scale: number | undefined, file: string, budget: ReadBudget): Float32Array | Uint8Array {
  if (a.dtype === 'u1') {
    if (scale === undefined) {
      throw new SoupError('DATASET_MISMATCH', 'x is uint8: set "scale" in modelsoups.json (e.g. 0.00392156862745098 for pixels/255) to say how the model expects its inputs', file);
    }
    return a.data;
  }
  const n = a.shape.reduce((p, q) => p * q, 1);
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  let get: (i: number) => number;
  switch (a.dtype) {
    case 'f4':
      get = (i) => view.getFloat32(i * 4, true);
      break;
    case 'f8':
      get = (i) => view.getFloat64(i * 8, true);
      break;
    case 'f2':
      get = (i) => halfToFloat(view.getUint16(i * 2, true));
      break;
    default:
      throw new SoupError('DATASET_MISMATCH', `x has dtype ${a.dtype}; expected float32, float64, float16 or uint8`, file);
  }
  budget.reserve(n * 4, `x as float32 (${n} values)`, file);
  const out = new Float32Array(n);
  const s = scale ?? 1;
  for (let i = 0; i < n; i++) out[i] = s === 1 ? get(i) : get(i) * s;
  checkFinite(out, a.shape, file);
  return out;
}

/** Refuses inputs with NaN or infinite values (also those a float64 value overflows to in float32). */
function checkFinite(x: Float32Array, shape: number[], file: string): void {
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  let values = 0;
  let examples = 0;
  let first = -1;
  let lastExample = -1;
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i])) continue;
    values++;
    const example = Math.floor(i / per);
    if (example !== lastExample) {
      examples++;
      lastExample = example;
      if (first < 0) first = example;
    }
  }
  if (values > 0) {
    throw new SoupError(
      'DATASET_MISMATCH',
      `x holds ${values} NaN or infinite value${values === 1 ? '' : 's'} in ${examples} of ${shape[0]} examples (first: example ${first}); every model would predict the same class for them: clean or drop those examples`,
      file,
    );
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function toLabels(a: NpyArray, file: string, budget: ReadBudget): Int32Array {
  const n = a.shape.reduce((p, q) => p * q, 1);
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  // int64 and uint32 labels are read whole (bigint / number) so that 2^32 + 3 is refused, not taken as class 3.
  const get: ((i: number) => number | bigint) | undefined = {
    i8: (i: number) => view.getBigInt64(i * 8, true),
    i4: (i: number) => view.getInt32(i * 4, true),
    i2: (i: number) => view.getInt16(i * 2, true),
    i1: (i: number) => view.getInt8(i),
    u1: (i: number) => view.getUint8(i),
    u2: (i: number) => view.getUint16(i * 2, true),
    u4: (i: number) => view.getUint32(i * 4, true),
  }[a.dtype as string];
  if (!get) throw new SoupError('DATASET_MISMATCH', `y has dtype ${a.dtype}; expected integer class labels`, file);
  budget.reserve(n * 4, `y as int32 (${n} labels)`, file);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = get(i);
    if (v < INT32_MIN || v > INT32_MAX) {
      throw new SoupError('DATASET_MISMATCH', `label ${v} at index ${i} is out of range for a class index (a ${a.dtype === 'i8' ? '64' : '32'}-bit value outside int32)`, file);
    }
    out[i] = Number(v);
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
