import type { SoupReport } from '../src/engine/report';
import { bestOf, metricColumns, type ModelRow } from './rows';

/**
 * The comparison table as a toolkit data grid, built with DOM calls and `textContent` only:
 * ids come from run folder names, which may contain markup.
 */
export function buildTable(report: SoupReport, rows: ModelRow[]): HTMLElement {
  const cols = metricColumns(report);
  const template = `minmax(14em, 2.2fr) minmax(9em, 1.2fr) repeat(${cols.length}, minmax(5.5em, 1fr))`;
  const grid = document.createElement('vscode-data-grid');
  grid.setAttribute('generate-header', 'none');
  grid.setAttribute('grid-template-columns', template);
  grid.setAttribute('aria-label', 'Accuracy of the soup, the baselines and every ingredient');
  grid.className = 'results-grid';

  const header = document.createElement('vscode-data-grid-row');
  header.setAttribute('row-type', 'header');
  header.setAttribute('grid-template-columns', template);
  ['Model', 'Kind', ...cols.map((c) => c.title)].forEach((title, i) => header.appendChild(cell(title, i + 1, 'columnheader')));
  grid.appendChild(header);

  // Cost is marked only when it differs: every soup costs 1×, so "best" would mark them all.
  const best = cols.map((c) => (c.better === 'higher' ? bestOf(c, rows) : undefined));
  for (const row of rows) {
    const r = document.createElement('vscode-data-grid-row');
    r.setAttribute('grid-template-columns', template);
    r.classList.add(`row-${row.kind}`);
    if (row.inSoup) r.classList.add('row-in-soup');
    r.appendChild(cell(row.label, 1));
    const kind = cell(row.kindText, 2);
    if (row.note) kind.title = row.note;
    r.appendChild(kind);
    cols.forEach((col, i) => {
      const v = col.value(row);
      const c = cell(v === undefined ? '—' : col.format(v), i + 3);
      c.classList.add('num');
      if (v !== undefined && best[i] !== undefined && Math.abs(v - (best[i] as number)) < 1e-12) {
        c.classList.add('best');
        const mark = document.createElement('span');
        mark.className = 'best-mark';
        mark.textContent = ' ★';
        mark.setAttribute('aria-label', `best ${col.title}`);
        c.appendChild(mark);
      }
      r.appendChild(c);
    });
    grid.appendChild(r);
  }
  return grid;
}

function cell(text: string, column: number, type?: 'columnheader'): HTMLElement {
  const c = document.createElement('vscode-data-grid-cell');
  c.setAttribute('grid-column', String(column));
  if (type) c.setAttribute('cell-type', type);
  c.textContent = text;
  return c;
}
