// How numbers read everywhere a user sees them: the CLI, progress lines, the sidebar and the
// results panel. Pure, so the engine, the extension and the webview share one copy.

/** Accuracy as a percentage, e.g. 0.8855 -> "88.6 %" (two digits: "88.55 %"); an em dash when there is none. */
export function formatPercent(fraction: number | undefined, digits = 1): string {
  return fraction === undefined || !Number.isFinite(fraction) ? '—' : `${(fraction * 100).toFixed(digits)} %`;
}

/**
 * The difference of two accuracies in percentage points: "+1.2 pp", "−0.4 pp", and "±0.0 pp"
 * when it rounds to zero (so a tiny loss never shows as "+0.0"); an em dash when either is missing.
 * `digits` decimals (default 1).
 */
export function formatGain(value: number | undefined, reference: number | undefined, digits = 1): string {
  if (value === undefined || reference === undefined || !Number.isFinite(value) || !Number.isFinite(reference)) return '—';
  const pp = (value - reference) * 100;
  const magnitude = Math.abs(pp).toFixed(digits);
  const sign = Number(magnitude) === 0 ? '±' : pp > 0 ? '+' : '−';
  return `${sign}${magnitude} pp`;
}

/** A byte count with SI units (1 KB = 1000 bytes), e.g. "414 KB", "1.2 GB"; "unknown size" when there is none. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'unknown size';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** A plain number with `digits` decimals (ECE, NLL, a temperature, an angle); an em dash when there is none. */
export function formatDecimal(value: number | undefined | null, digits = 4): string {
  return value === undefined || value === null || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}
