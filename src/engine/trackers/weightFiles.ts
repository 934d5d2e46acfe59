/**
 * Finds the weight files a tracker run keeps (MLflow `artifacts/`, W&B `files/`, Lightning
 * `checkpoints/`), by name: the formats the checkpoint readers take, without the Trainer's
 * optimizer/scheduler/RNG files and without the shards an index file stands for.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isInside } from './trackerFiles';
import type { WeightCandidate, WeightFormat } from './trackerRun';

/** How deep below the searched folder weights are looked for (`artifacts/model/data/model.pth` is 3). */
export const WEIGHT_SEARCH_DEPTH = 4;
/** Directory entries looked at per search: a run folder with a huge artifact tree is not walked whole. */
export const WEIGHT_SEARCH_ENTRIES = 10_000;

// Index files first: they stand for their shards, which are not candidates themselves.
const FORMAT_BY_SUFFIX: readonly (readonly [string, WeightFormat])[] = [
  ['.safetensors.index.json', 'safetensors-index'],
  ['.bin.index.json', 'torch-index'],
  ['.safetensors', 'safetensors'],
  ['.pth', 'torch'],
  ['.pt', 'torch'],
  ['.bin', 'torch'],
  ['.ckpt', 'lightning-ckpt'],
  ['.onnx', 'onnx'],
];
const FORMAT_RANK: Record<WeightFormat, number> = {
  'safetensors-index': 0, safetensors: 1, 'torch-index': 2, torch: 3, 'lightning-ckpt': 4, onnx: 5,
};
// Files with weight-like suffixes that hold training state, not a model.
const NOT_WEIGHTS = /^(optimizer|scheduler|scaler|training_args|rng_state.*|training_state)\.(pt|pth|bin)$/;
const SHARD = /-\d+-of-\d+\.(safetensors|bin)$/;

/** The weight format a file name says, or undefined for anything else. */
export function weightFormatOf(name: string): WeightFormat | undefined {
  if (NOT_WEIGHTS.test(name) || SHARD.test(name)) return undefined;
  return FORMAT_BY_SUFFIX.find(([suffix]) => name.endsWith(suffix))?.[1];
}

/** Orders two weight formats: safetensors (index, file), PyTorch (index, file), Lightning `.ckpt`, ONNX. */
export function compareWeightFormats(a: WeightFormat, b: WeightFormat): number {
  return FORMAT_RANK[a] - FORMAT_RANK[b];
}

/**
 * The weight files among `names` (one folder's listing), ranked as {@link findWeightFiles} ranks
 * them: the same names and suffixes, for run folders whose weights sit at a known level.
 */
export function rankWeightNames(names: Iterable<string>): { name: string; format: WeightFormat }[] {
  const out: { name: string; format: WeightFormat }[] = [];
  for (const name of names) {
    const format = weightFormatOf(name);
    if (format) out.push({ name, format });
  }
  return out.sort((a, b) => compareWeightFormats(a.format, b.format) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Weight files under `dir` (itself included, down to {@link WEIGHT_SEARCH_DEPTH} levels), ranked:
 * safetensors (index, then single file), then PyTorch (index, then `.pth`/`.pt`/`.bin`), Lightning
 * `.ckpt`, ONNX; then shallower first, then by path. Symlinked folders are not entered (loops,
 * escapes); a symlinked file counts only when it resolves inside `root`. A missing `dir` gives [].
 */
export async function findWeightFiles(dir: string, root: string): Promise<WeightCandidate[]> {
  const found: { candidate: WeightCandidate; depth: number }[] = [];
  const realRoot = await fsp.realpath(root).catch(() => path.resolve(root));
  let budget = WEIGHT_SEARCH_ENTRIES;
  const walk = async (at: string, depth: number): Promise<void> => {
    const entries = await fsp.readdir(at, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (--budget < 0) return;
      const abs = path.join(at, entry.name);
      if (entry.isDirectory()) {
        if (depth < WEIGHT_SEARCH_DEPTH) await walk(abs, depth + 1);
        continue;
      }
      const format = weightFormatOf(entry.name);
      if (!format) continue;
      if (entry.isSymbolicLink() && !(await resolvesInside(abs, realRoot))) continue;
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      found.push({ candidate: { path: abs, format }, depth });
    }
  };
  await walk(dir, 0);
  found.sort((a, b) => compareWeightFormats(a.candidate.format, b.candidate.format) || a.depth - b.depth
    || (a.candidate.path < b.candidate.path ? -1 : a.candidate.path > b.candidate.path ? 1 : 0));
  return found.map((f) => f.candidate);
}

/** True when the symlink `abs` resolves to a regular file inside `realRoot`. */
async function resolvesInside(abs: string, realRoot: string): Promise<boolean> {
  try {
    const real = await fsp.realpath(abs);
    return isInside(realRoot, real) && (await fsp.stat(real)).isFile();
  } catch {
    return false;
  }
}
