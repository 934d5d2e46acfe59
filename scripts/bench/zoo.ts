import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BuildGraph } from '../../test/synthetic/onnxBuild';
import { mlpGraph, writeOnnxModel } from '../../test/synthetic/onnxBuild';
import { encodeDatasetNpz } from '../../test/synthetic/npzWrite';
import { spawnSync } from 'node:child_process';

/** A generated zoo: K fine-tunes of one base MLP, as plain runs, with a held-out set. */
export interface ZooSpec {
  /** MLP layer sizes `[in, hidden..., classes]`. */
  sizes: number[];
  k: number;
  /** Store weights as ONNX external data (`model.onnx.data`) instead of inline. */
  external: boolean;
  heldoutN: number;
  seed: number;
  batchSize?: number;
  threads?: number;
}

/** What {@link generateZoo} wrote. */
export interface Zoo {
  dir: string;
  graph: BuildGraph;
  runIds: string[];
  /** Bytes of float weights per model. */
  modelBytes: number;
  /** Bytes of the held-out set in memory (x as float32 + y as int32). */
  datasetBytes: number;
}

/** Relative run folder of ingredient `k`. */
export function runId(k: number): string {
  return `runs/ft-${String(k).padStart(2, '0')}`;
}

/**
 * Writes a zoo under `dir`: `runs/ft-XX/{model.onnx[,model.onnx.data],metrics.json}` (plain
 * layout), `data/heldout.npz` (random inputs, random labels: the benchmark measures throughput,
 * not accuracy) and `modelsoups.json`. Ingredient k = base + a small perturbation of its own,
 * generated tensor by tensor, so only one tensor is ever in memory.
 */
export async function generateZoo(dir: string, spec: ZooSpec): Promise<Zoo> {
  const graph = mlpGraph(spec.sizes);
  const runIds: string[] = [];
  for (let k = 0; k < spec.k; k++) {
    const id = runId(k);
    const runDir = path.join(dir, id);
    await fsp.mkdir(runDir, { recursive: true });
    await writeOnnxModel(path.join(runDir, 'model.onnx'), graph, (i) => ingredientTensor(graph, spec.seed, k, i), {
      externalData: spec.external ? 'model.onnx.data' : undefined,
    });
    // Distinct accuracies, best first in id order, so the greedy order is the id order.
    await fsp.writeFile(path.join(runDir, 'metrics.json'), JSON.stringify({ val_accuracy: 0.9 - k * 0.001, hparams: { seed: k } }));
    runIds.push(id);
  }
  return finishZoo(dir, spec, graph, runIds, {});
}

/**
 * Writes a zoo's held-out set (`data/heldout.npz`: random inputs, random labels) and its
 * `modelsoups.json` (with `extra` keys), flushes the files to disk and describes the zoo.
 */
export async function finishZoo(dir: string, spec: ZooSpec, graph: BuildGraph, runIds: string[], extra: Record<string, unknown>): Promise<Zoo> {
  const inDim = spec.sizes[0];
  const classes = spec.sizes[spec.sizes.length - 1];
  const rng = xorshift(spec.seed ^ 0x5eed);
  const x = new Float32Array(spec.heldoutN * inDim);
  for (let i = 0; i < x.length; i++) x[i] = rng() * 2 - 1;
  const y = new Int32Array(spec.heldoutN);
  for (let i = 0; i < y.length; i++) y[i] = Math.floor(rng() * classes);
  await fsp.mkdir(path.join(dir, 'data'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'data/heldout.npz'), encodeDatasetNpz({ data: x, shape: [spec.heldoutN, inDim] }, y));
  const config: Record<string, unknown> = { datasets: { heldout: 'data/heldout.npz' }, batchSize: spec.batchSize ?? 256, ...extra };
  if (spec.threads) config.threads = spec.threads;
  await fsp.writeFile(path.join(dir, 'modelsoups.json'), JSON.stringify(config, null, 2));
  // Flush the freshly written gigabytes now, so the kernel's writeback does not compete with
  // (and slow down) the first measured cook. The files stay in the page cache.
  spawnSync('sync');
  const modelBytes = graph.initializers.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1) * 4, 0);
  return { dir, graph, runIds, modelBytes, datasetBytes: x.byteLength + y.byteLength };
}

/**
 * Tensor `i` of ingredient `k`: the base tensor (uniform in ±1/sqrt(fan_in), seeded by `seed`
 * and `i`) plus 5 % of that scale of noise seeded by `k`. Deterministic, so tests and the
 * benchmark can recompute any ingredient without storing it.
 */
export function ingredientTensor(graph: BuildGraph, seed: number, k: number, i: number): Float32Array {
  const t = graph.initializers[i];
  const n = t.dims.reduce((a, b) => a * b, 1);
  const fanIn = t.dims.length > 1 ? t.dims[1] : t.dims[0];
  const a = 1 / Math.sqrt(fanIn);
  const base = xorshift(seed * 7919 + i * 104729 + 1);
  const noise = xorshift((seed + 1) * 15485863 + k * 1299709 + i * 7 + 3);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = (base() * 2 - 1) * a + (noise() * 2 - 1) * a * 0.05;
  return out;
}

/** A small fast PRNG (xorshift32) giving floats in [0, 1). */
export function xorshift(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}
