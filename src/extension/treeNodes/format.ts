/** "88.6 %" for a fraction in [0, 1]; an em dash when there is no value. */
export function formatAccuracy(fraction: number | undefined): string {
  return fraction === undefined || !Number.isFinite(fraction) ? '—' : `${(fraction * 100).toFixed(1)} %`;
}

/** "+1.2 pp" / "−0.4 pp": the difference of two fractions in percentage points. */
export function formatGain(value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined) return '—';
  const pp = (value - reference) * 100;
  const sign = pp > 0.05 ? '+' : pp < -0.05 ? '−' : '±';
  return `${sign}${Math.abs(pp).toFixed(1)} pp`;
}

/** "412 KB" for a byte count. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown size';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A hyperparameter value on one line. */
export function formatHParam(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
