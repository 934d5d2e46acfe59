import { exampleStatsOf } from '../evaluate/exampleStats';
import { calibrationOf, shiftKeys, shiftMean } from './calibration';
import type { TemperatureDataset, TemperatureScaling } from './types';

/** Search bounds of log T: T in [0.05, 20]. */
export const LOG_T_BOUNDS: [number, number] = [Math.log(0.05), Math.log(20)];
/** The search stops when the interval of log T is narrower than this. */
export const LOG_T_TOL = 1e-7;

/** One model's logits on one dataset. */
export interface DatasetLogits {
  key: string;
  /** Row-major [n × classes]. */
  logits: ArrayLike<number>;
  classes: number;
  labels: ArrayLike<number>;
  /** A class-subset set's classes: its probabilities are taken among them (as its accuracy). */
  subset?: readonly number[];
}

/** Mean NLL of softmax(logits / T). */
export function nllAtTemperature(d: DatasetLogits, T: number): number {
  const s = exampleStatsOf(d.logits, d.classes, d.labels, T, d.subset);
  let sum = 0;
  for (let i = 0; i < s.logpLabel.length; i++) sum -= s.logpLabel[i];
  return sum / s.logpLabel.length;
}

/**
 * Minimises `f(u)` over [lo, hi] by golden-section search, until the interval is narrower than
 * `tol`; returns the midpoint of the last interval, f there, and the number of evaluations of f
 * (two to start, one per narrowing, one at the end).
 */
export function goldenSection(f: (u: number) => number, lo: number, hi: number, tol: number): { u: number; value: number; evaluations: number } {
  const inv = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - inv * (b - a);
  let d = a + inv * (b - a);
  let fc = f(c);
  let fd = f(d);
  let evaluations = 2;
  while (b - a > tol) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - inv * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + inv * (b - a);
      fd = f(d);
    }
    evaluations++;
  }
  const u = (a + b) / 2;
  return { u, value: f(u), evaluations: evaluations + 1 };
}

/**
 * Temperature scaling of one model: T minimises the held-out NLL of softmax(logits / T)
 * (golden-section search on log T over [log 0.05, log 20]); then ECE, NLL and Brier before and
 * after on every dataset, and their shift averages. `datasets` must include `heldout`.
 */
export function temperatureScaling(model: string, datasets: DatasetLogits[]): TemperatureScaling {
  const heldout = datasets.find((d) => d.key === 'heldout');
  if (!heldout) throw new Error('temperature scaling needs the held-out logits');
  const fit = goldenSection((u) => nllAtTemperature(heldout, Math.exp(u)), LOG_T_BOUNDS[0], LOG_T_BOUNDS[1], LOG_T_TOL);
  const T = Math.exp(fit.u);
  const per: Record<string, TemperatureDataset> = {};
  for (const d of datasets) {
    const before = calibrationOf(exampleStatsOf(d.logits, d.classes, d.labels, 1, d.subset), d.labels);
    const after = calibrationOf(exampleStatsOf(d.logits, d.classes, d.labels, T, d.subset), d.labels);
    per[d.key] = { acc: before.acc, eceBefore: before.ece, eceAfter: after.ece, nllBefore: before.nll, nllAfter: after.nll, brierBefore: before.brier, brierAfter: after.brier, reliabilityAfter: after.reliability };
  }
  const mean = (f: (t: TemperatureDataset) => number) => shiftMean(per, f) as number;
  return {
    model,
    T,
    logT: fit.u,
    heldoutNllAtT: fit.value,
    search: { method: 'golden-section on u = log T', boundsLogT: LOG_T_BOUNDS, tolLogT: LOG_T_TOL, evaluations: fit.evaluations },
    datasets: per,
    shiftAvg: shiftKeys(Object.keys(per)).length === 0 ? undefined : { eceBefore: mean((t) => t.eceBefore), eceAfter: mean((t) => t.eceAfter), nllBefore: mean((t) => t.nllBefore), nllAfter: mean((t) => t.nllAfter), brierBefore: mean((t) => t.brierBefore), brierAfter: mean((t) => t.brierAfter) },
  };
}
