/**
 * The metric names that hold a run's held-out (validation) accuracy, in one place for every
 * reader: Lightning `metrics.csv` columns and TensorBoard tags, MLflow metric keys, W&B summary
 * keys, `metrics.json` fields.
 */

/**
 * Default held-out keys, tried in this order in every source: Lightning's and Keras' habits,
 * the Hugging Face Trainer's `eval_` prefix, and the `prefix/name` forms of W&B and TensorBoard.
 */
export const DEFAULT_HELDOUT_KEYS = [
  'val_acc', 'val_accuracy', 'eval_accuracy', 'eval/accuracy', 'val/acc', 'val/accuracy', 'validation/accuracy',
] as const;

/** The keys to try: the configured `metric` alone when given, else {@link DEFAULT_HELDOUT_KEYS}. */
export function heldoutKeys(metric?: string): readonly string[] {
  return metric ? [metric] : DEFAULT_HELDOUT_KEYS;
}

/** The first of {@link heldoutKeys} for which `has` holds, or undefined. */
export function findHeldoutKey(has: (key: string) => boolean, metric?: string): string | undefined {
  return heldoutKeys(metric).find(has);
}
