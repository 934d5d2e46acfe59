import { SoupError } from '../errors';
import type { NpyArray } from '../formats/npy';
import { parseNpy } from '../formats/npy';
import { readNpz } from '../formats/npz';
import { readInputFile } from '../formats/readInput';
import * as path from 'node:path';
import type { DatasetSource } from '../config';
import { datasetLabel } from '../config';

/** An evaluation dataset in memory: inputs as float32 (scaled), labels as int32. */
export interface Dataset {
  /** `heldout`, `test`, or the shift name. */
  key: string;
  /** Workspace-relative path as configured. */
  path: string;
  /** Absolute path. */
  file: string;
  x: Float32Array;
  /** Shape of `x`, first axis = examples. */
  xShape: number[];
  y: Int32Array;
  n: number;
}

/**
 * Loads arrays `x` and `y` from an `.npz` archive (or two `.npy` files), resolving paths against
 * the workspace. `x` may be float32, float64, float16 or uint8
 * (multiplied by `scale`, e.g. 1/255 for raw pixels); `y` any integer type. Throws
 * DATASET_MISMATCH when `x` and `y` disagree in length or `y` is not integer.
 */
export async function loadDataset(key: string, src: DatasetSource, workspace: string, scale?: number): Promise<Dataset> {
  const relPath = datasetLabel(src);
  const file = path.resolve(workspace, relPath);
  let arrays: Record<string, NpyArray>;
  if (typeof src === 'string') {
    if (src.toLowerCase().endsWith('.npy')) {
      throw new SoupError('DATASET_MISMATCH', 'a .npy file holds one array: give {"x": "<x>.npy", "y": "<y>.npy"}, or save both with np.savez(file, x=..., y=...)', file);
    }
    arrays = await readNpz(file, ['x', 'y']);
  } else {
    arrays = { x: await readNpyFile(file), y: await readNpyFile(path.resolve(workspace, src.y)) };
  }
  const x = toFloat32(arrays.x, scale, file);
  const y = toLabels(arrays.y, file);
  const n = arrays.x.shape[0] ?? 0;
  if (arrays.x.shape.length < 2) throw new SoupError('DATASET_MISMATCH', `x has shape (${arrays.x.shape.join(', ')}); expected (N, ...features)`, file);
  if (arrays.y.shape.length !== 1 || arrays.y.shape[0] !== n) {
    throw new SoupError('DATASET_MISMATCH', `y has shape (${arrays.y.shape.join(', ')}) but x has ${n} examples; expected y of shape (${n},)`, file);
  }
  if (n === 0) throw new SoupError('DATASET_MISMATCH', 'dataset has no examples', file);
  return { key, path: relPath, file, x, xShape: arrays.x.shape, y, n };
}

/** Loads a `.npy` file from disk. */
export async function readNpyFile(file: string): Promise<NpyArray> {
  return parseNpy(await readInputFile(file, 'dataset file'), file);
}

function toFloat32(a: NpyArray, scale: number | undefined, file: string): Float32Array {
  if (a.dtype === 'u1' && scale === undefined) {
    throw new SoupError('DATASET_MISMATCH', 'x is uint8: set "scale" in modelsoups.json (e.g. 0.00392156862745098 for pixels/255) to say how the model expects its inputs', file);
  }
  const n = a.shape.reduce((p, q) => p * q, 1);
  const out = new Float32Array(n);
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  switch (a.dtype) {
    case 'f4':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'f8':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'f2':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'u1':
      for (let i = 0; i < n; i++) out[i] = a.data[i];
      break;
    default:
      throw new SoupError('DATASET_MISMATCH', `x has dtype ${a.dtype}; expected float32, float64, float16 or uint8`, file);
  }
  if (scale !== undefined && scale !== 1) for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

function toLabels(a: NpyArray, file: string): Int32Array {
  const n = a.shape.reduce((p, q) => p * q, 1);
  const out = new Int32Array(n);
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const get: ((i: number) => number) | undefined = {
    i8: (i: number) => Number(view.getBigInt64(i * 8, true)),
    i4: (i: number) => view.getInt32(i * 4, true),
    i2: (i: number) => view.getInt16(i * 2, true),
    i1: (i: number) => view.getInt8(i),
    u1: (i: number) => view.getUint8(i),
    u2: (i: number) => view.getUint16(i * 2, true),
    u4: (i: number) => view.getUint32(i * 4, true),
  }[a.dtype as string];
  if (!get) throw new SoupError('DATASET_MISMATCH', `y has dtype ${a.dtype}; expected integer class labels`, file);
  for (let i = 0; i < n; i++) out[i] = get(i);
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
