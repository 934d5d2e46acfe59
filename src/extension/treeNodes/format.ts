/** A hyperparameter value on one line. */
export function formatHParam(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
