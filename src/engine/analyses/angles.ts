import type { OnnxModelInfo } from '../formats/onnxModel';
import { StreamingMean } from '../soups/streamingMean';
import type { WeightArray, WeightSet } from '../soups/weights';
import { CHUNK_ELEMS } from '../soups/weights';
import { shiftMean } from './calibration';
import { pearson, spearman } from './correlation';
import type { WeightSource } from './mixWeights';
import { forEachChunk } from './mixWeights';
import type { CostMeter, ModelEvaluation } from './modelEvaluation';
import { perDataset, shiftAvgAcc } from './modelEvaluation';
import type { AnglePair, Correlation } from './types';

/** Inner products of the fine-tuning directions d_i = θi − θ0. */
export interface DirectionGram {
  k: number;
  /** Row-major [k × k], symmetric: <d_i, d_j> over every float weight, in float64. */
  gram: Float64Array;
}

/**
 * The Gram matrix of the fine-tuning directions θi − θ0 of `models` (float64, over all float
 * weights), streamed: per chunk, one piece of θ0 and of every model, so memory is K chunks
 * (K × 512 KB), never a model.
 */
export async function directionGram(layout: OnnxModelInfo, theta0: WeightSource, models: WeightSource[], signal?: AbortSignal): Promise<DirectionGram> {
  const k = models.length;
  const gram = new Float64Array(k * k);
  const d = models.map(() => new Float64Array(CHUNK_ELEMS));
  await forEachChunk(
    layout,
    [theta0, ...models],
    (_w, _start, [base, ...pieces]: WeightArray[]) => {
      const n = base.length;
      pieces.forEach((p, i) => {
        const di = d[i];
        for (let e = 0; e < n; e++) di[e] = p[e] - base[e];
      });
      for (let i = 0; i < k; i++) {
        const di = d[i];
        for (let j = i; j < k; j++) {
          const dj = d[j];
          let s = 0;
          for (let e = 0; e < n; e++) s += di[e] * dj[e];
          gram[i * k + j] += s;
        }
      }
    },
    signal,
  );
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) gram[i * k + j] = gram[j * k + i];
  return { k, gram };
}

/** cos, angle in degrees and ||θi − θj|| of every pair i < j, from the Gram matrix. */
export function pairGeometry(ids: string[], g: DirectionGram): AnglePair[] {
  const pairs: AnglePair[] = [];
  const G = (i: number, j: number) => g.gram[i * g.k + j];
  for (let i = 0; i < g.k; i++) {
    for (let j = i + 1; j < g.k; j++) {
      const cos = G(i, j) / Math.sqrt(G(i, i) * G(j, j));
      const angleDeg = (Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI;
      pairs.push({ i: ids[i], j: ids[j], cos, angleDeg, l2: Math.sqrt(Math.max(0, G(i, i) + G(j, j) - 2 * G(i, j))) });
    }
  }
  return pairs;
}

/**
 * Which pairs get a 2-soup when at most `cap` may: all when they fit, otherwise `cap` pairs
 * evenly spaced in order of angle (the smallest and the largest angle included), so the scatter
 * spans the whole range. Returns indices into `pairs`, in `pairs` order.
 */
export function selectPairs(pairs: AnglePair[], cap: number): number[] {
  const all = pairs.map((_, i) => i);
  if (cap >= pairs.length) return all;
  if (cap <= 0) return [];
  const byAngle = [...all].sort((a, b) => pairs[a].angleDeg - pairs[b].angleDeg || a - b);
  const picked = new Set<number>();
  for (let s = 0; s < cap; s++) picked.add(byAngle[cap === 1 ? Math.floor((byAngle.length - 1) / 2) : Math.round((s * (byAngle.length - 1)) / (cap - 1))]);
  return all.filter((i) => picked.has(i));
}

/**
 * Evaluates the uniform 2-soup (θi + θj)/2 of each selected pair (float64 sum / 2, as every
 * uniform soup) and fills in its accuracies and its gain over the pair's mean accuracy per
 * dataset and for the shift average.
 */
export async function evaluatePairSoups(
  pairs: AnglePair[],
  selected: number[],
  models: Map<string, OnnxModelInfo>,
  individual: (id: string) => ModelEvaluation,
  evaluate: (weights: WeightSet) => Promise<ModelEvaluation>,
  opts: { scratch?: WeightSet; meter?: CostMeter; signal?: AbortSignal; onPair?: (done: number, total: number, pair: AnglePair) => void } = {},
): Promise<void> {
  const averager = new StreamingMean();
  let scratch = opts.scratch;
  for (const [n, idx] of selected.entries()) {
    const pair = pairs[idx];
    scratch = await averager.mean([models.get(pair.i) as OnnxModelInfo, models.get(pair.j) as OnnxModelInfo], { out: scratch, signal: opts.signal });
    if (opts.meter) opts.meter.weightMixes++;
    const e = await evaluate(scratch);
    const ei = individual(pair.i);
    const ej = individual(pair.j);
    const gain = Object.fromEntries(Object.keys(e).map((key) => [key, e[key].acc - (ei[key].acc + ej[key].acc) / 2]));
    const shiftGain = shiftMean(gain, (g) => g);
    if (shiftGain !== undefined) gain.shiftAvg = shiftGain;
    pair.soup = { correct: perDataset(e, (c) => c.correct), acc: perDataset(e, (c) => c.acc), shiftAvgAcc: shiftAvgAcc(e), gain };
    opts.onPair?.(n + 1, selected.length, pair);
  }
}

/** Pearson and Spearman correlation of angle and gain over the pairs that have a 2-soup, per gain key. */
export function angleGainCorrelations(pairs: AnglePair[], keys: string[]): Record<string, Correlation> {
  const out: Record<string, Correlation> = {};
  const withSoup = pairs.filter((p) => p.soup);
  if (withSoup.length < 3) return out;
  for (const key of keys) {
    const usable = withSoup.filter((p) => p.soup?.gain[key] !== undefined);
    if (usable.length < 3) continue;
    const angle = usable.map((p) => p.angleDeg);
    const gain = usable.map((p) => p.soup?.gain[key] as number);
    out[key] = { pearson: pearson(angle, gain), spearman: spearman(angle, gain), n: usable.length };
  }
  return out;
}
