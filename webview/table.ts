import type { SoupReport } from '../src/shared/webviewProtocol';
import { bestOf, metricColumns, type ModelRow } from './rows';

/**
 * The comparison table as a toolkit data grid, built with DOM calls and `textContent` only:
 * ids come from run folder names, which may contain markup.
 */
export function buildTable(report: SoupReport, rows: ModelRow[]): HTMLElement {
  const cols = metricColumns(report);
  // One line per row, every row the same height: the model column takes what the numbers leave
  // (longer ids are cut with an ellipsis and shown whole in the cell's tooltip); a number column
  // fits a two-line title like "gaussian / noise" and a value with its ★.
  const template = `minmax(12em, 4fr) minmax(10.5em, 1.2fr) repeat(${cols.length}, minmax(6.5em, 1fr))`;
  const grid = document.createElement('vscode-data-grid');
  grid.setAttribute('generate-header', 'none');
  grid.setAttribute('grid-template-columns', template);
  grid.setAttribute('aria-label', 'Accuracy of the soup, the baselines and every ingredient');
  grid.className = 'results-grid';
  // Never narrower than the columns' minimums: below that the scroller around the grid scrolls
  // sideways (with the model column sticky) instead of cutting off the last columns.
  grid.style.minWidth = `${12 + 10.5 + cols.length * 6.5 + 2}em`;

  const header = document.createElement('vscode-data-grid-row');
  header.setAttribute('row-type', 'header');
  header.setAttribute('grid-template-columns', template);
  ['Model', 'Kind', ...cols.map((c) => c.title)].forEach((title, i) => header.appendChild(cell(title, i + 1, 'columnheader', i >= 2 ? 'num' : undefined)));
  grid.appendChild(header);

  // Cost is marked only when it differs: every soup costs 1×, so "best" would mark them all.
  const best = cols.map((c) => (c.better === 'higher' ? bestOf(c, rows) : undefined));
  rows.forEach((row, index) => {
    const r = document.createElement('vscode-data-grid-row');
    r.setAttribute('grid-template-columns', template);
    r.classList.add(`row-${row.kind}`);
    if (row.inSoup) r.classList.add('row-in-soup');
    // A rule between the soup and its baselines and the ingredients.
    if (row.kind === 'ingredient' && rows[index - 1]?.kind !== 'ingredient') r.classList.add('group-start');
    const label = cell(row.label, 1, 'rowheader', 'text');
    label.title = row.inSoup ? `${row.label} (a member of the soup)` : row.label;
    r.appendChild(label);
    const kind = cell(row.kindText, 2, undefined, 'text');
    kind.title = row.note ?? row.kindText;
    r.appendChild(kind);
    cols.forEach((col, i) => {
      const v = col.value(row);
      const text = v === undefined ? '—' : col.format(v);
      const c = cell(text, i + 3);
      c.classList.add('num');
      if (v !== undefined && best[i] !== undefined && Math.abs(v - (best[i] as number)) < 1e-12) {
        c.classList.add('best');
        // The star is decoration for the eye; the cell's accessible name says it in words.
        c.setAttribute('aria-label', `${text}, best in column ${col.title}`);
        const mark = document.createElement('span');
        mark.className = 'best-mark';
        mark.textContent = '★';
        mark.setAttribute('aria-hidden', 'true');
        c.appendChild(mark);
      }
      r.appendChild(c);
    });
    grid.appendChild(r);
  });
  return grid;
}

function cell(text: string, column: number, type?: 'columnheader' | 'rowheader', className?: string): HTMLElement {
  const c = document.createElement('vscode-data-grid-cell');
  c.setAttribute('grid-column', String(column));
  if (type) c.setAttribute('cell-type', type);
  if (className) c.classList.add(className);
  c.textContent = text;
  return c;
}
