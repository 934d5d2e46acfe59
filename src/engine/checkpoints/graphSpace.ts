/**
 * Checkpoint ingredients in graph space: an {@link OnnxModelInfo} that is the graph's with every
 * mapped weight's data pointing at the checkpoint's values in the graph's type and layout. A
 * float32 tensor already in that layout (little-endian, contiguous, not transposed) is read where
 * it is, in the checkpoint file; the others (transposed, F16/BF16, F64, strided views) are
 * written once, tensor by tensor, into a file of the cook's private temp folder. The averaging
 * and evaluation code then treats checkpoint ingredients exactly as ONNX ones. The temp folder
 * is removed by {@link GraphSpace.close}, which the cook calls at the end, on failure and on cancel.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SoupError, throwIfAborted } from '../errors';
import type { OnnxModelInfo, OnnxWeight } from '../formats/onnxModel';
import { OnnxDataType } from '../formats/onnxSchema';
import type { FloatDtype } from '../formats/tensorDtypes';
import { isFloatDtype } from '../formats/tensorDtypes';
import { isContiguous, TensorReader, type TensorEntry } from '../formats/tensorRead';
import type { CheckpointTable } from './checkpointTable';
import type { GraphBinding, GraphMapping } from './graphMapping';

/** A checkpoint ingredient as the graph sees it. */
export interface GraphIngredient {
  /** The graph with the mapped weights' data in this ingredient's temp file. */
  model: OnnxModelInfo;
  /** Stored dtype of the checkpoint tensor behind each graph weight (undefined: kept constants). */
  dtypes: (FloatDtype | undefined)[];
}

/** The graph, its mapping and the temp folder checkpoint ingredients are materialised into. */
export class GraphSpace {
  private count = 0;
  private readonly byInitializer: Map<string, GraphBinding>;

  private constructor(readonly graph: OnnxModelInfo, readonly mapping: GraphMapping, readonly dir: string) {
    this.byInitializer = new Map(mapping.bindings.map((b) => [b.initializer, b]));
  }

  /** Creates the private temp folder (under os.tmpdir()). */
  static async open(graph: OnnxModelInfo, mapping: GraphMapping): Promise<GraphSpace> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'model-soup-graph-'));
    return new GraphSpace(graph, mapping, dir);
  }

  /** The binding of graph weight `i` (undefined for a kept constant). */
  bindingOf(i: number): GraphBinding | undefined {
    return this.byInitializer.get(this.graph.weights[i].name);
  }

  /**
   * Writes `ckpt`'s graph-space weights (one tensor in memory at a time) and returns the graph
   * pointing at them. Throws INCOMPATIBLE naming the checkpoint when a mapped tensor is missing
   * or has another size.
   */
  async materialise(ckpt: CheckpointTable, signal?: AbortSignal): Promise<GraphIngredient> {
    const file = path.join(this.dir, `ingredient-${this.count++}.bin`);
    const reader = new TensorReader();
    // Opened at the first tensor that has to be written: none when every one is read in place.
    let out: fsp.FileHandle | undefined;
    const weights: OnnxWeight[] = [];
    const dtypes: (FloatDtype | undefined)[] = [];
    let offset = 0;
    try {
      for (const [i, w] of this.graph.weights.entries()) {
        throwIfAborted(signal);
        const b = this.bindingOf(i);
        if (!b) {
          weights.push(w);
          dtypes.push(undefined);
          continue;
        }
        const t = ckpt.tensors.get(b.tensor);
        if (!t || !isFloatDtype(t.dtype) || t.numel !== w.numel) {
          throw new SoupError('INCOMPATIBLE', `tensor "${b.tensor}" (graph initializer "${w.name}") is ${t ? `${t.dtype} [${t.shape.join(', ')}]` : 'missing'}, the graph needs ${w.numel} float values`, ckpt.table.file);
        }
        dtypes.push(t.dtype);
        const where = inPlace(t, w, b.transposed);
        if (where) {
          weights.push({ ...w, data: where });
          continue;
        }
        const bytes = graphBytes((await reader.read(t)) as Float32Array | Float64Array, w, t, b.transposed);
        out ??= await fsp.open(file, 'w');
        for (let done = 0; done < bytes.length; ) done += (await out.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
        weights.push({ ...w, data: { kind: 'external', file, location: path.basename(file), offset, length: bytes.length } });
        offset += bytes.length;
      }
    } finally {
      await Promise.all([out?.close(), reader.close()]);
    }
    return { model: { ...this.graph, weights }, dtypes };
  }

  /** Removes the temp folder and everything in it. */
  async close(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Where a checkpoint tensor's bytes already are the graph weight's (float32, little-endian,
 * contiguous, not transposed, inside its storage): read in place, nothing copied or written.
 */
function inPlace(t: TensorEntry, w: OnnxWeight, transposed: boolean): OnnxWeight['data'] | undefined {
  if (transposed || w.dataType !== OnnxDataType.FLOAT || t.dtype !== 'F32' || t.bigEndian || !isContiguous(t)) return undefined;
  // A view reaching past its storage is left to the reader, which refuses it naming the file.
  if (t.storageOffset < 0 || t.storageOffset + t.numel > t.storageNumel) return undefined;
  return { kind: 'external', file: t.file, location: path.basename(t.file), offset: t.dataOffset + t.storageOffset * 4, length: t.numel * 4 };
}

/** A checkpoint tensor's values in the graph weight's type and layout, as little-endian bytes. */
function graphBytes(values: Float32Array | Float64Array, w: OnnxWeight, t: TensorEntry, transposed: boolean): Uint8Array {
  // Float32 values already in the graph's layout are written as they were read: a second copy of
  // the largest tensor (2/3 of an MLP's weights) would set the cook's peak memory.
  if (!transposed && w.dataType === OnnxDataType.FLOAT && values instanceof Float32Array) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const arr = w.dataType === OnnxDataType.DOUBLE ? new Float64Array(w.numel) : new Float32Array(w.numel);
  if (transposed) {
    // The initializer [cols, rows] holds the transpose of the tensor [rows, cols].
    transposeInto(values, arr, t.shape[0], t.shape[1]);
  } else {
    arr.set(values);
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** Writes the transpose of `src` [rows, cols] into `dst` [cols, rows]. */
export function transposeInto(src: ArrayLike<number>, dst: Float32Array | Float64Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}
