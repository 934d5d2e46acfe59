import type { ExampleStats } from '../evaluate/exampleStats';
import type { CalibrationSummary, DatasetCalibration, ReliabilityBin } from './types';

/** Equal-width confidence bins of ECE and the reliability diagram. */
export const ECE_BINS = 15;

/** The bin of a confidence: [k/15, (k+1)/15), with 1.0 in the last bin. */
export function binOf(conf: number, bins = ECE_BINS): number {
  return Math.min(Math.floor(conf * bins), bins - 1);
}

/**
 * Calibration of one model on one dataset from its per-example statistics: accuracy, ECE
 * (sum over bins of n_b/N·|acc_b − conf_b|, empty bins adding nothing), MCE (the largest gap of a
 * non-empty bin), NLL, Brier score, mean confidence and the reliability table.
 */
export function calibrationOf(stats: ExampleStats, labels: ArrayLike<number>, bins = ECE_BINS): DatasetCalibration {
  const n = stats.conf.length;
  const count = new Array<number>(bins).fill(0);
  const correctIn = new Array<number>(bins).fill(0);
  const confSum = new Array<number>(bins).fill(0);
  let correct = 0;
  let nll = 0;
  let brier = 0;
  let conf = 0;
  for (let i = 0; i < n; i++) {
    const b = binOf(stats.conf[i], bins);
    const hit = stats.pred[i] === labels[i] ? 1 : 0;
    count[b]++;
    correctIn[b] += hit;
    confSum[b] += stats.conf[i];
    correct += hit;
    nll -= stats.logpLabel[i];
    brier += stats.brier[i];
    conf += stats.conf[i];
  }
  let ece = 0;
  let mce = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    if (c > 0) {
      const gap = Math.abs(correctIn[b] / c - confSum[b] / c);
      ece += (c / n) * gap;
      mce = Math.max(mce, gap);
    }
    reliability.push({ bin: b, lo: b / bins, hi: (b + 1) / bins, count: c, correct: correctIn[b], confSum: confSum[b], meanConf: c > 0 ? confSum[b] / c : null, acc: c > 0 ? correctIn[b] / c : null });
  }
  return { n, correct, acc: correct / n, ece, mce, nll: nll / n, brier: brier / n, meanConfidence: conf / n, reliability };
}

/** Dataset keys that are distribution shifts (not `heldout` or `test`), in the given order. */
export function shiftKeys(keys: Iterable<string>): string[] {
  return [...keys].filter((k) => k !== 'heldout' && k !== 'test');
}

/** The unweighted mean of `value` over the shift datasets present (undefined when there are none). */
export function shiftMean<T>(perDataset: Record<string, T>, value: (v: T) => number): number | undefined {
  const shifts = shiftKeys(Object.keys(perDataset));
  if (shifts.length === 0) return undefined;
  return shifts.reduce((a, k) => a + value(perDataset[k]), 0) / shifts.length;
}

/** The shift average of every calibration figure: the mean of the per-dataset values, not a pooled metric. */
export function calibrationShiftAverage(perDataset: Record<string, DatasetCalibration>): CalibrationSummary | undefined {
  const mean = (f: (c: DatasetCalibration) => number) => shiftMean(perDataset, f) as number;
  if (shiftKeys(Object.keys(perDataset)).length === 0) return undefined;
  return { acc: mean((c) => c.acc), ece: mean((c) => c.ece), mce: mean((c) => c.mce), nll: mean((c) => c.nll), brier: mean((c) => c.brier), meanConfidence: mean((c) => c.meanConfidence) };
}
