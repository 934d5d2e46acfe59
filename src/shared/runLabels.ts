/**
 * The distinctive end of each run id: the fewest trailing path segments that no other run shares
 * (`lightning_logs/version_0` -> `version_0`), so that the accuracy after it stays visible at the
 * sidebar's default width.
 */
export function shortRunLabels(ids: readonly string[]): Map<string, string> {
  const segments = new Map(ids.map((id) => [id, id.split('/')]));
  const labels = new Map<string, string>();
  for (const id of ids) {
    const parts = segments.get(id) as string[];
    for (let n = 1; n <= parts.length; n++) {
      const tail = parts.slice(-n).join('/');
      const clash = ids.some((other) => other !== id && (segments.get(other) as string[]).slice(-n).join('/') === tail);
      if (!clash || n === parts.length) {
        labels.set(id, tail);
        break;
      }
    }
  }
  return labels;
}
