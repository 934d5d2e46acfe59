/** Accuracy as a percentage with one decimal, e.g. 0.8855 -> "88.6 %" (UI, CLI, progress). */
export function formatPercent(acc: number | undefined, digits = 1): string {
  return acc === undefined || !Number.isFinite(acc) ? '—' : `${(acc * 100).toFixed(digits)} %`;
}

/** Bytes as a short human size, e.g. "414 KB", "1.2 GB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
