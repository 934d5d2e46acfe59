import type { OnnxModelInfo } from '../formats/onnxModel';
import type { WeightSet } from '../soups/weights';
import { shiftKeys } from './calibration';
import type { WeightSource } from './mixWeights';
import { mixWeights } from './mixWeights';
import type { CostMeter, ModelEvaluation } from './modelEvaluation';
import { perDataset, shiftAvgAcc } from './modelEvaluation';
import type { BestAlpha, WiseFtCurve, WiseFtPoint } from './types';

/** The WiSE-FT grid: α = k/10 for k = 0..10. */
export const WISE_FT_ALPHAS: readonly number[] = Array.from({ length: 11 }, (_, k) => k / 10);

/** What one WiSE-FT curve needs. */
export interface WiseFtInput {
  /** The architecture's layout (any model of it). */
  layout: OnnxModelInfo;
  /** θ0: the pretrained model. */
  theta0: WeightSource;
  /** θ: the endpoint (the soup, or the best individual). */
  end: WeightSource;
  /** The endpoint's name in the result. */
  endpoint: string;
  /** Evaluates a model on every dataset. */
  evaluate: (weights: WeightSet) => Promise<ModelEvaluation>;
  /**
   * Evaluations already made of θ0 (α = 0) and of θ (α = 1): those points are exactly these
   * models, so they cost no pass.
   */
  atZero?: ModelEvaluation;
  atOne?: ModelEvaluation;
  alphas?: readonly number[];
  /** A weight set of the layout to mix into (overwritten). */
  scratch?: WeightSet;
  meter?: CostMeter;
  signal?: AbortSignal;
  onPoint?: (alpha: number) => void;
}

/**
 * The WiSE-FT curve θ(α) = (1 − α)·θ0 + α·θ per tensor, computed in float64 and rounded to
 * float32 (streamed: one chunk of each model in memory), evaluated on every dataset, with the
 * best α per dataset and for the shift average.
 */
export async function wiseFtCurve(input: WiseFtInput): Promise<WiseFtCurve> {
  const points: WiseFtPoint[] = [];
  let scratch = input.scratch;
  for (const alpha of input.alphas ?? WISE_FT_ALPHAS) {
    let evaluation = alpha === 0 ? input.atZero : alpha === 1 ? input.atOne : undefined;
    if (!evaluation) {
      scratch = await mixWeights(
        input.layout,
        [
          { source: input.theta0, coef: 1 - alpha },
          { source: input.end, coef: alpha },
        ],
        { out: scratch, signal: input.signal },
      );
      if (input.meter) input.meter.weightMixes++;
      evaluation = await input.evaluate(scratch);
    }
    points.push({ alpha, correct: perDataset(evaluation, (c) => c.correct), acc: perDataset(evaluation, (c) => c.acc), shiftAvgAcc: shiftAvgAcc(evaluation), nll: perDataset(evaluation, (c) => c.nll), ece: perDataset(evaluation, (c) => c.ece) });
    input.onPoint?.(alpha);
  }
  return { endpoint: input.endpoint, points, bestAlpha: bestAlphas(points) };
}

/** The α with the highest accuracy per dataset and for the shift average; the smallest α on ties. */
export function bestAlphas(points: WiseFtPoint[]): Record<string, BestAlpha> {
  const best: Record<string, BestAlpha> = {};
  const consider = (key: string, alpha: number, value: number | undefined) => {
    if (value === undefined) return;
    const b = best[key];
    if (!b || value > b.value || (value === b.value && alpha < b.alpha)) best[key] = { alpha, value };
  };
  for (const p of points) {
    for (const key of ['heldout', 'test', ...shiftKeys(Object.keys(p.acc))]) consider(key, p.alpha, p.acc[key]);
    consider('shiftAvg', p.alpha, p.shiftAvgAcc);
  }
  return best;
}
