import { printable } from '../engine/safeText';

/**
 * Renders rows as an aligned plain-text table; numbers-looking cells are right-aligned. Every
 * cell is made printable first (control characters escaped): run ids are folder names, and a
 * name holding ESC or a line break must not drive the terminal or split a row.
 */
export function renderTable(header: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => safe.length > 0 && safe.every((r) => /^[-—\d.,% ×x]*$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...safe.map(line)].join('\n');
}
