import { predictedClass } from './evaluator';

/**
 * Per-example statistics of one pass over a dataset: everything calibration needs (ECE, NLL,
 * Brier, reliability diagrams), four numbers per example instead of the logits of every model.
 * Probabilities are the float64 softmax of the float32 logits, p = exp(z - logsumexp(z)), as the
 * PyTorch reference computes them.
 *
 * On a class-subset set (`subset`: the class indices the set covers, as for ImageNet-R/-A) the
 * softmax runs over the logits of those classes only, the restriction accuracy uses: z is
 * `logits[subset]`, the prediction is the argmax among them (reported as a model class index),
 * and the Brier score sums over the subset's classes against the label re-indexed within the
 * subset. Every label must then be one of the subset's classes (it is: the subset is the set of
 * labels present).
 */
export interface ExampleStats {
  /** Top-1 confidence p[pred]. */
  conf: Float64Array;
  /** Predicted class (model index): argmax of the logits, the first one on ties (as torch.argmax). */
  pred: Int32Array;
  /** Natural log of the label's probability, log p[y]. */
  logpLabel: Float64Array;
  /** Brier score of the example, sum_c (p_c - onehot(y)_c)^2 over the classes scored, in [0, 2]. */
  brier: Float64Array;
}

/** Room for the statistics of `n` examples. */
export function allocExampleStats(n: number): ExampleStats {
  return { conf: new Float64Array(n), pred: new Int32Array(n), logpLabel: new Float64Array(n), brier: new Float64Array(n) };
}

/**
 * Fills the statistics of `count` examples from row-major logits `[count × classes]` (float32
 * from a pass, or float64 e.g. the mean logits of an ensemble), writing example `i` at
 * `at + i`; `labels[at + i]` is its label. With `temperature` T the probabilities are
 * softmax(z / T) (temperature scaling; the prediction does not change). With `subset` the
 * softmax is taken among those classes only (see {@link ExampleStats}).
 */
export function fillExampleStats(into: ExampleStats, at: number, logits: ArrayLike<number>, count: number, classes: number, labels: ArrayLike<number>, temperature = 1, subset?: readonly number[]): void {
  const scored = subset ?? Int32Array.from({ length: classes }, (_, c) => c);
  const m = scored.length;
  for (let i = 0; i < count; i++) {
    const off = i * classes;
    // The prediction is read from the raw logits, so a temperature never changes it.
    const pred = predictedClass(logits, off, classes, subset);
    const max = logits[off + pred] / temperature;
    let sum = 0;
    for (let j = 0; j < m; j++) sum += Math.exp(logits[off + scored[j]] / temperature - max);
    const lse = max + Math.log(sum);
    const y = labels[at + i];
    let brier = 0;
    for (let j = 0; j < m; j++) {
      const c = scored[j];
      const p = Math.exp(logits[off + c] / temperature - lse);
      const d = c === y ? p - 1 : p;
      brier += d * d;
    }
    into.conf[at + i] = Math.exp(max - lse);
    into.pred[at + i] = pred;
    into.logpLabel[at + i] = logits[off + y] / temperature - lse;
    into.brier[at + i] = brier;
  }
}

/** The statistics of a whole dataset from its logits `[n × classes]` (among `subset` when set). */
export function exampleStatsOf(logits: ArrayLike<number>, classes: number, labels: ArrayLike<number>, temperature = 1, subset?: readonly number[]): ExampleStats {
  const n = labels.length;
  const s = allocExampleStats(n);
  fillExampleStats(s, 0, logits, n, classes, labels, temperature, subset);
  return s;
}
