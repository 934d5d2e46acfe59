import type { EvalDataset } from '../datasets/evalDataset';
import type { Evaluator } from '../evaluate/evaluator';
import type { ExampleStats } from '../evaluate/exampleStats';
import type { LogitEnsemble } from '../evaluate/metrics';
import type { OnnxModelInfo } from '../formats/onnxModel';
import type { WeightSet } from '../soups/weights';
import { loadWeights } from '../soups/weights';
import { calibrationOf, shiftMean } from './calibration';
import type { DatasetCalibration } from './types';

/** One model's calibration per dataset key: what every analysis reads about a model. */
export type ModelEvaluation = Record<string, DatasetCalibration>;

/**
 * The evaluations of named models, kept as calibration summaries (no logits, no per-example
 * arrays). A cook records its own passes here (each ingredient, the uniform soup), so the
 * analyses need no extra forward pass for them.
 */
export class EvaluationBook {
  private readonly models = new Map<string, ModelEvaluation>();

  /** Records one pass of model `name` on `ds` (the per-example stats of {@link Evaluator.run} with `stats`). */
  record(name: string, ds: EvalDataset, stats: ExampleStats): DatasetCalibration {
    const cal = calibrationOf(stats, ds.y);
    let m = this.models.get(name);
    if (!m) this.models.set(name, (m = {}));
    m[ds.key] = cal;
    return cal;
  }

  /** Records a whole evaluation. */
  set(name: string, evaluation: ModelEvaluation): void {
    this.models.set(name, evaluation);
  }

  /** The evaluation of `name` when it covers every dataset in `keys`. */
  get(name: string, keys?: string[]): ModelEvaluation | undefined {
    const m = this.models.get(name);
    return m && (keys ?? []).every((k) => m[k] !== undefined) ? m : undefined;
  }

  names(): string[] {
    return [...this.models.keys()];
  }
}

/** Counts what an analysis costs: its own forward passes and weight mixes. */
export class CostMeter {
  forwardPasses = 0;
  weightMixes = 0;
  private readonly started = performance.now();

  cost(): { ms: number; forwardPasses: number; weightMixes: number } {
    return { ms: Math.round(performance.now() - this.started), forwardPasses: this.forwardPasses, weightMixes: this.weightMixes };
  }
}

/**
 * Evaluates one model on every dataset (one pass each) and reduces each pass to its calibration
 * summary. With `keepLogits` the logits are returned too (for temperature scaling).
 */
export async function evaluateModel(
  evaluator: Evaluator,
  weights: WeightSet,
  datasets: EvalDataset[],
  opts: { signal?: AbortSignal; keepLogits?: boolean; meter?: CostMeter } = {},
): Promise<{ evaluation: ModelEvaluation; logits: Record<string, Float32Array> }> {
  const evaluation: ModelEvaluation = {};
  const logits: Record<string, Float32Array> = {};
  for (const ds of datasets) {
    const r = await evaluator.run(weights, ds, { stats: true, keepLogits: opts.keepLogits, signal: opts.signal });
    if (opts.meter) opts.meter.forwardPasses++;
    evaluation[ds.key] = calibrationOf(r.stats as ExampleStats, ds.y);
    if (r.logits) logits[ds.key] = r.logits;
  }
  return { evaluation, logits };
}

/** `pick` of every dataset of an evaluation. */
export function perDataset(e: ModelEvaluation, pick: (c: DatasetCalibration) => number): Record<string, number> {
  return Object.fromEntries(Object.entries(e).map(([k, c]) => [k, pick(c)]));
}

/** The mean accuracy over the shift datasets of an evaluation. */
export function shiftAvgAcc(e: ModelEvaluation): number | undefined {
  return shiftMean(e, (c) => c.acc);
}

/**
 * One pass of each model per dataset, as a cook's evaluate phase makes them: each pass's
 * per-example statistics go into `book` under the model's id and, with `ensemble`, its logits
 * into the logit ensemble. One weight set is reused for every model.
 */
export async function recordPasses(
  evaluator: Evaluator,
  datasets: EvalDataset[],
  models: { id: string; model: OnnxModelInfo }[],
  book: EvaluationBook,
  opts: { ensemble?: LogitEnsemble; signal?: AbortSignal; onModel?: (done: number, total: number, id: string) => void } = {},
): Promise<void> {
  let weights: WeightSet | undefined;
  for (const [i, m] of models.entries()) {
    weights = await loadWeights(m.model, weights);
    for (const ds of datasets) {
      const r = await evaluator.run(weights, ds, { stats: true, keepLogits: opts.ensemble !== undefined, signal: opts.signal });
      book.record(m.id, ds, r.stats as ExampleStats);
      if (r.logits) opts.ensemble?.add(ds, r.logits);
    }
    if (opts.ensemble) opts.ensemble.members++;
    opts.onModel?.(i + 1, models.length, m.id);
  }
}
