/**
 * A checkpoint soup as training tools load it: `model.safetensors` holding every tensor of the
 * members' state dict under the architecture's names (graph-mapped tensors from the soup,
 * transposed back; other float tensors averaged here; integer tensors from the first member),
 * each in the precision rule's dtype, plus the first member's `config.json` (dtype fields
 * updated) and tokenizer / preprocessor files. `from_pretrained` / `load_state_dict` load it.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError, throwIfAborted } from '../errors';
import type { TensorData } from '../formats/safetensors';
import { writeSafetensorsFile, type SafetensorsTensorSpec } from '../formats/safetensorsWrite';
import { isFloatDtype, roundToHalf } from '../formats/tensorDtypes';
import { TensorReader } from '../formats/tensorRead';
import type { WeightSet } from '../soups/weights';
import type { CheckpointTable } from './checkpointTable';
import { transposeInto, type GraphSpace } from './graphSpace';
import { soupDtypeOf, type SoupDtype } from './storedPrecision';

/** Files copied from the first member's folder when present (config and tokenizer / preprocessor). */
const SIDE_FILES = [
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json',
  'vocab.txt', 'vocab.json', 'merges.txt', 'tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model',
  'preprocessor_config.json', 'image_processor_config.json', 'feature_extractor_config.json',
];

/** PyTorch's names for the soup dtypes, as `config.json` spells them. */
const TORCH_DTYPE: Record<SoupDtype, string> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

/**
 * Writes `weightsFile` (safetensors) for the soup of `members` whose graph-space weights are
 * `soup`, and copies the first member's side files into the same folder. Returns each tensor's
 * dtype by name.
 */
export async function writeSoupCheckpoint(weightsFile: string, members: readonly CheckpointTable[], space: GraphSpace, soup: WeightSet, signal?: AbortSignal): Promise<Record<string, string>> {
  const first = members[0];
  const graphIndex = new Map<string, number>();
  space.graph.weights.forEach((_, i) => {
    const b = space.bindingOf(i);
    if (b) graphIndex.set(b.tensor, i);
  });
  const names = [...first.tensors.keys()];
  const specs: SafetensorsTensorSpec[] = names.map((name) => {
    const t = first.tensors.get(name)!;
    const dtype = isFloatDtype(t.dtype) ? soupDtypeOf(members.map((m) => m.tensors.get(name)?.dtype).map((d) => (d && isFloatDtype(d) ? d : undefined))) : t.dtype;
    return { name, dtype, shape: t.shape };
  });
  const reader = new TensorReader();
  const tensorOf = (m: CheckpointTable, name: string) => {
    const t = m.tensors.get(name);
    if (!t) throw new SoupError('INCOMPATIBLE', `tensor "${name}" of ${first.table.file} is missing`, m.table.file);
    return t;
  };
  const data = async (i: number): Promise<TensorData> => {
    throwIfAborted(signal);
    const { name, dtype } = specs[i];
    const t = tensorOf(first, name);
    if (!isFloatDtype(t.dtype)) return reader.readRaw(t);
    let values: Float32Array;
    const g = graphIndex.get(name);
    if (g !== undefined) {
      values = fromGraph(soup[g], t.shape, space.bindingOf(g)?.transposed === true);
    } else {
      // Not in the graph (buffers, heads the export dropped): the float64 mean of the members.
      const sum = new Float64Array(t.numel);
      for (const m of members) {
        const v = await reader.readFloat64(tensorOf(m, name));
        for (let k = 0; k < sum.length; k++) sum[k] += v[k];
      }
      values = new Float32Array(t.numel);
      for (let k = 0; k < sum.length; k++) values[k] = sum[k] / members.length;
    }
    return dtype === 'BF16' || dtype === 'F16' ? roundToHalf(dtype, values) : values;
  };
  try {
    await writeSafetensorsFile(weightsFile, specs, data, { format: 'pt' });
  } finally {
    await reader.close();
  }
  const dtypes = Object.fromEntries(specs.map((s) => [s.name, s.dtype]));
  await copySideFiles(path.dirname(first.table.file), path.dirname(weightsFile), specs);
  return dtypes;
}

/** A soup weight in the checkpoint's layout (the graph may hold the transpose). */
function fromGraph(w: Float32Array | Float64Array, shape: readonly number[], transposed: boolean): Float32Array {
  if (!transposed) return w instanceof Float32Array ? w : Float32Array.from(w);
  // The graph holds [cols, rows]; the checkpoint [rows, cols].
  const [rows, cols] = shape;
  const out = new Float32Array(rows * cols);
  transposeInto(w, out, cols, rows);
  return out;
}

/**
 * Copies the side files the first member's folder holds; `config.json`'s `torch_dtype` / `dtype`
 * become the soup's float dtype (float32 when the soup's float tensors do not share one).
 */
async function copySideFiles(from: string, to: string, specs: readonly SafetensorsTensorSpec[]): Promise<void> {
  const floats = new Set(specs.filter((s) => isFloatDtype(s.dtype)).map((s) => s.dtype as SoupDtype));
  const torchDtype = TORCH_DTYPE[floats.size === 1 ? [...floats][0] : 'F32'];
  for (const name of SIDE_FILES) {
    const src = path.join(from, name);
    const st = await fsp.stat(src).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (name !== 'config.json') {
      await fsp.copyFile(src, path.join(to, name));
      continue;
    }
    let config: unknown;
    try {
      config = JSON.parse(await fsp.readFile(src, 'utf8'));
    } catch {
      // Not ours to fix: copied as it is.
      await fsp.copyFile(src, path.join(to, name));
      continue;
    }
    if (config && typeof config === 'object' && !Array.isArray(config)) {
      const c = config as Record<string, unknown>;
      for (const key of ['torch_dtype', 'dtype']) if (typeof c[key] === 'string') c[key] = torchDtype;
    }
    await fsp.writeFile(path.join(to, name), JSON.stringify(config, null, 2) + '\n');
  }
}
