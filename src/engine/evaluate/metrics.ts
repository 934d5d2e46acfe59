import type { Metrics } from '../report';
import type { EvalDataset } from '../datasets/evalDataset';
import { predictedClass } from './evaluator';

/** Builds {@link Metrics} from correct counts per dataset key. */
export function metricsFromCorrect(correct: Record<string, number>, datasets: EvalDataset[]): Metrics {
  const m: Metrics = { shifts: {}, correct: { ...correct } };
  for (const ds of datasets) {
    const c = correct[ds.key];
    if (c === undefined) continue;
    const acc = c / ds.n;
    if (ds.key === 'heldout') m.heldout = acc;
    else if (ds.key === 'test') m.test = acc;
    else m.shifts[ds.key] = acc;
  }
  const shifts = Object.values(m.shifts);
  if (shifts.length > 0) m.shiftAvg = shifts.reduce((a, b) => a + b, 0) / shifts.length;
  return m;
}

/**
 * Running sum of logits per dataset for the logit ensemble (argmax of the mean of raw logits):
 * memory is N × classes per dataset, whatever the number of ingredients.
 */
export class LogitEnsemble {
  private readonly sums = new Map<string, Float64Array>();
  private readonly classes = new Map<string, number>();
  members = 0;

  /** Adds one model's logits [n × classes] on a dataset. */
  add(ds: EvalDataset, logits: Float32Array): void {
    const classes = logits.length / ds.n;
    let s = this.sums.get(ds.key);
    if (!s) {
      s = new Float64Array(logits.length);
      this.sums.set(ds.key, s);
      this.classes.set(ds.key, classes);
    }
    for (let i = 0; i < s.length; i++) s[i] += logits[i];
  }

  /**
   * The ensemble's mean logits [n × classes] on a dataset (float64 sum divided by `members`),
   * e.g. for its calibration; undefined before any model was added on it.
   */
  meanLogits(ds: EvalDataset): { logits: Float64Array; classes: number } | undefined {
    const s = this.sums.get(ds.key);
    const classes = this.classes.get(ds.key);
    if (!s || !classes || this.members === 0) return undefined;
    const members = this.members;
    return { logits: s.map((v) => v / members), classes };
  }

  /** Correct top-1 predictions of the ensemble on a dataset (among `ds.subset` when set). */
  correct(ds: EvalDataset): number {
    const s = this.sums.get(ds.key);
    const classes = this.classes.get(ds.key);
    if (!s || !classes) return 0;
    let c = 0;
    for (let i = 0; i < ds.n; i++) if (predictedClass(s, i * classes, classes, ds.subset) === ds.y[i]) c++;
    return c;
  }
}
