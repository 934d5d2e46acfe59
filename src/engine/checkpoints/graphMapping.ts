/**
 * Which checkpoint tensor each float initializer of the graph (the one ONNX export of the
 * architecture) stands for. Exporters keep most names (`conv1.weight`) but constant folding
 * creates new ones: torch.onnx.export folds a Linear weight's transpose into `onnx::MatMul_N`.
 *
 * Per initializer, in order: the same name (after the wrapper prefix that fits best); else the
 * reference checkpoint tensor (the checkpoint the graph was exported from) with identical values,
 * as stored or transposed; several identical candidates are told apart by the consuming node's
 * scope (`/fc1/MatMul` -> `fc1.*`). A float initializer of more than {@link SMALL_CONSTANT_ELEMENTS}
 * numbers that maps to nothing is a GRAPH_UNMAPPED error naming it; smaller ones are constants
 * the export made, kept from the graph and listed.
 */
import { SoupError } from '../errors';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { isFloatDtype } from '../formats/tensorDtypes';
import { TensorReader, type TensorEntry } from '../formats/tensorRead';
import { WeightReader } from '../soups/weights';
import { graphNodes, nodeScope } from './graphNodes';
import { chooseWrapperPrefix } from './namePrefix';

/** Float initializers of at most this many numbers may be export constants (kept from the graph). */
export const SMALL_CONSTANT_ELEMENTS = 16;

/** One graph initializer bound to a checkpoint tensor. */
export interface GraphBinding {
  /** Graph initializer name (`onnx::MatMul_35`). */
  initializer: string;
  /** Checkpoint (architecture) name (`fc1.weight`). */
  tensor: string;
  /** True when the initializer holds the tensor's transpose (2-D only). */
  transposed: boolean;
  /** How it was found. */
  by: 'name' | 'value' | 'value+scope';
}

/** The mapping of a graph onto a checkpoint's names. */
export interface GraphMapping {
  graph: string;
  reference: string;
  /** One per mapped float initializer, in the graph's weight order. */
  bindings: GraphBinding[];
  /** Small float initializers that map to nothing: kept from the graph as they are. */
  keptConstants: { initializer: string; numel: number }[];
  /** Reference tensors no initializer uses (buffers such as `num_batches_tracked`). */
  unusedTensors: string[];
}

/**
 * Maps `graph`'s float initializers onto the tensors of `reference` (a checkpoint whose names are
 * the architecture's own, e.g. the pretrained one; its file is named in messages). Reads the
 * values of unmatched initializers and of same-sized reference tensors only.
 */
export async function mapGraphToCheckpoint(graph: OnnxModelInfo, reference: { file: string; tensors: readonly TensorEntry[] }): Promise<GraphMapping> {
  const refByName = new Map(reference.tensors.map((t) => [t.name, t]));
  const graphNames = graph.weights.map((w) => w.name);
  const { rename } = chooseWrapperPrefix(graphNames, refByName.keys());
  const bindings: (GraphBinding | undefined)[] = new Array(graph.weights.length);
  const taken = new Set<string>();

  // 1. Names (after the graph's own wrapper prefix, if any).
  graph.weights.forEach((w, i) => {
    const t = refByName.get(rename.get(w.name) ?? w.name);
    if (t && isFloatDtype(t.dtype) && sameShape(t.shape, w.dims)) {
      bindings[i] = { initializer: w.name, tensor: t.name, transposed: false, by: 'name' };
      taken.add(t.name);
    }
  });

  // 2. Values, for the rest.
  const consumers = new Map<string, string[]>();
  for (const n of graphNodes(graph)) for (const input of n.inputs) consumers.set(input, [...(consumers.get(input) ?? []), nodeScope(n.name)]);
  const keptConstants: GraphMapping['keptConstants'] = [];
  const weights = new WeightReader(graph);
  const tensors = new TensorReader();
  const refValues = new Map<string, Float64Array>();
  const valuesOf = async (t: TensorEntry): Promise<Float64Array> => {
    let v = refValues.get(t.name);
    if (!v) {
      v = await tensors.readFloat64(t);
      refValues.set(t.name, v);
    }
    return v;
  };
  try {
    for (let i = 0; i < graph.weights.length; i++) {
      if (bindings[i]) continue;
      const w = graph.weights[i];
      const candidates = reference.tensors.filter((t) => !taken.has(t.name) && isFloatDtype(t.dtype) && t.numel === w.numel);
      const matches: { tensor: TensorEntry; transposed: boolean }[] = [];
      if (candidates.length > 0) {
        const g = await weights.read(i);
        for (const t of candidates) {
          const r = await valuesOf(t);
          if (sameShape(t.shape, w.dims) && equalValues(g, r)) matches.push({ tensor: t, transposed: false });
          else if (t.shape.length === 2 && w.dims.length === 2 && t.shape[0] === w.dims[1] && t.shape[1] === w.dims[0] && equalTransposed(g, r, t.shape[0], t.shape[1])) {
            matches.push({ tensor: t, transposed: true });
          }
        }
      }
      let chosen: { tensor: TensorEntry; transposed: boolean; by: GraphBinding['by'] } | undefined = matches.length === 1 ? { ...matches[0], by: 'value' } : undefined;
      if (matches.length > 1) {
        const scopes = (consumers.get(w.name) ?? []).filter((s) => s !== '');
        const scoped = matches.filter((m) => scopes.some((s) => m.tensor.name.startsWith(`${s}.`)));
        if (scoped.length === 1) chosen = { ...scoped[0], by: 'value+scope' };
        else {
          throw new SoupError('GRAPH_UNMAPPED', `graph initializer "${w.name}" has the values of several checkpoint tensors (${matches.map((m) => m.tensor.name).join(', ')}) and no node scope tells them apart; export with do_constant_folding=False so initializers keep their names`, graph.path);
        }
      }
      if (chosen) {
        bindings[i] = { initializer: w.name, tensor: chosen.tensor.name, transposed: chosen.transposed, by: chosen.by };
        taken.add(chosen.tensor.name);
      } else if (w.numel <= SMALL_CONSTANT_ELEMENTS) {
        keptConstants.push({ initializer: w.name, numel: w.numel });
      } else {
        throw new SoupError(
          'GRAPH_UNMAPPED',
          `graph initializer "${w.name}" [${w.dims.join(', ')}] matches no tensor of ${reference.file} by name or value (as stored or transposed), so it cannot be averaged. ` +
            'Export the graph from that checkpoint with torch.onnx.export(..., do_constant_folding=False), or with the dynamo exporter and optimize=False; a BatchNorm folded into a convolution cannot be averaged',
          graph.path,
        );
      }
    }
  } finally {
    await Promise.all([weights.close(), tensors.close()]);
  }
  const mapped = bindings.filter((b): b is GraphBinding => b !== undefined);
  const used = new Set(mapped.map((b) => b.tensor));
  return { graph: graph.path, reference: reference.file, bindings: mapped, keptConstants, unusedTensors: reference.tensors.filter((t) => !used.has(t.name)).map((t) => t.name) };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// Values are compared as float32: the graph holds float32, the reference may be stored wider.
function equalValues(g: ArrayLike<number>, r: Float64Array): boolean {
  for (let i = 0; i < g.length; i++) if (Math.fround(g[i]) !== Math.fround(r[i]) && !(Number.isNaN(g[i]) && Number.isNaN(r[i]))) return false;
  return true;
}

/** g is [cols, rows] holding the transpose of r [rows, cols]. */
function equalTransposed(g: ArrayLike<number>, r: Float64Array, rows: number, cols: number): boolean {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const a = g[j * rows + i];
      const b = r[i * cols + j];
      if (Math.fround(a) !== Math.fround(b) && !(Number.isNaN(a) && Number.isNaN(b))) return false;
    }
  }
  return true;
}
