/**
 * A checkpoint run's tensor table under the architecture's own names: the wrapper prefix
 * (`module.`, Lightning's `model.`) stripped against the reference names, the storage dtype,
 * and a key over names and shapes, so checkpoint runs group like ONNX runs do.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { OnnxDataType } from '../formats/onnxSchema';
import { isFloatDtype } from '../formats/tensorDtypes';
import { contiguousStrides, type TensorEntry } from '../formats/tensorRead';
import { chooseWrapperPrefix } from './namePrefix';
import type { WeightsTable } from './weightsFile';

/** A weights table, or an ONNX model's float initializers read as one (format `onnx`). */
export type TensorTable = Omit<WeightsTable, 'format'> & { format: WeightsTable['format'] | 'onnx' };

/** A checkpoint's tensors by architecture name. */
export interface CheckpointTable {
  table: TensorTable;
  /** The wrapper prefix stripped (`''` for none). */
  prefix: string;
  /** Architecture name -> the tensor as saved, in file order. */
  tensors: Map<string, TensorEntry>;
  /** Storage dtype of the float tensors: `f32`, `bf16`, `f16`, `f64`, or `mixed`. */
  dtype: string;
  /** SHA-256 over the architecture names, dtype classes and shapes (what must match to average). */
  key: string;
}

/** Reads `table` under the names of `referenceNames` (the graph's / the reference checkpoint's). */
export function checkpointTable(table: TensorTable, referenceNames: Iterable<string>): CheckpointTable {
  const { prefix, rename } = chooseWrapperPrefix(table.tensors.map((t) => t.name), referenceNames);
  const tensors = new Map<string, TensorEntry>();
  for (const t of table.tensors) tensors.set(rename.get(t.name) ?? t.name, t);
  const dtypes = new Set(table.tensors.filter((t) => isFloatDtype(t.dtype)).map((t) => t.dtype.toLowerCase()));
  const dtype = dtypes.size === 1 ? [...dtypes][0] : dtypes.size === 0 ? 'none' : 'mixed';
  return { table, prefix, tensors, dtype, key: tensorsKey(tensors) };
}

/**
 * An ONNX model's float initializers as a tensor table, so an ONNX run exported differently
 * from the graph (other initializer names, e.g. without constant folding) joins graph space in
 * a mixed workspace. Nothing is read.
 */
export function onnxTensorTable(model: OnnxModelInfo): TensorTable {
  const tensors = model.weights.map((w): TensorEntry => ({
    name: w.name,
    dtype: w.dataType === OnnxDataType.DOUBLE ? 'F64' : 'F32',
    shape: [...w.dims],
    numel: w.numel,
    file: w.data.kind === 'inline' ? model.path : w.data.file,
    dataOffset: w.data.offset,
    storageNumel: w.numel,
    storageOffset: 0,
    strides: contiguousStrides(w.dims),
  }));
  return { file: model.path, format: 'onnx', files: [...new Set([model.path, ...tensors.map((t) => t.file)])], tensors, metadata: {} };
}

/** The first tensor of `table` that `reference` lacks or holds in another shape (ONNX runs carry no buffers). */
export function firstTensorNotIn(table: ReadonlyMap<string, TensorEntry>, reference: ReadonlyMap<string, TensorEntry>, referenceLabel: string): string | undefined {
  for (const [name, t] of table) {
    const r = reference.get(name);
    if (!r) return `initializer "${name}" is not a tensor of ${referenceLabel}`;
    if (t.shape.length !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i])) return `initializer "${name}" is [${t.shape.join(', ')}], ${referenceLabel} has [${r.shape.join(', ')}]`;
  }
  return undefined;
}

/** Architecture key of a tensor table: names, float-or-not and shapes, in name order. */
export function tensorsKey(tensors: ReadonlyMap<string, TensorEntry>): string {
  const lines = [...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, t]) => `${n} ${isFloatDtype(t.dtype) ? 'float' : t.dtype} [${t.shape.join(',')}]`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * The first tensor in which `table` differs from `reference` (missing, extra, other shape or a
 * float tensor against an integer one), described for a reason; undefined when they agree.
 */
export function firstTensorDifference(table: ReadonlyMap<string, TensorEntry>, reference: ReadonlyMap<string, TensorEntry>, referenceLabel: string): string | undefined {
  for (const [name, r] of reference) {
    const t = table.get(name);
    if (!t) return `tensor "${name}" of ${referenceLabel} is missing`;
    if (t.shape.length !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i])) return `tensor "${name}" is [${t.shape.join(', ')}], ${referenceLabel} has [${r.shape.join(', ')}]`;
    if (isFloatDtype(t.dtype) !== isFloatDtype(r.dtype)) return `tensor "${name}" is ${t.dtype}, ${referenceLabel} has ${r.dtype}`;
  }
  for (const name of table.keys()) if (!reference.has(name)) return `tensor "${name}" is not in ${referenceLabel}`;
  return undefined;
}

/** Weights files a graph's folder may hold: the checkpoint it was exported from. */
const EXPORT_CHECKPOINTS = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pt', 'model.pth'];

/**
 * The checkpoint the graph was exported from: one in the graph's folder, else `pretrained`
 * when that is a checkpoint (not an ONNX model). Undefined when there is none.
 */
export async function referenceCheckpointFile(graphFile: string, pretrained: string | undefined): Promise<string | undefined> {
  for (const name of EXPORT_CHECKPOINTS) {
    const f = path.join(path.dirname(graphFile), name);
    if (await fsp.stat(f).then((s) => s.isFile(), () => false)) return f;
  }
  return pretrained && !pretrained.endsWith('.onnx') ? pretrained : undefined;
}
