import { formatPercent } from '../src/shared/format';
import type { GreedyStep } from '../src/shared/webviewProtocol';

/**
 * The greedy trajectory as a table behind a toggle: which candidate was tried at each step, the
 * soup's held-out accuracy with it, and whether it was kept. The chart shows the same data, but
 * only as pixels.
 */
export function trajectoryTable(steps: readonly GreedyStep[]): HTMLElement {
  const details = document.createElement('details');
  details.className = 'steps';
  const summary = document.createElement('summary');
  summary.textContent = `Show the ${steps.length} greedy steps as a table`;
  details.appendChild(summary);
  const table = document.createElement('table');
  const caption = document.createElement('caption');
  caption.textContent = 'Greedy steps: candidates in held-out order';
  table.appendChild(caption);
  const row = (cells: string[], header: boolean): HTMLTableRowElement => {
    const tr = document.createElement('tr');
    cells.forEach((text, i) => {
      const cell = document.createElement(header || i === 1 ? 'th' : 'td');
      if (header) cell.setAttribute('scope', 'col');
      else if (i === 1) cell.setAttribute('scope', 'row');
      cell.textContent = text;
      tr.appendChild(cell);
    });
    return tr;
  };
  const head = document.createElement('thead');
  head.appendChild(row(['Step', 'Candidate', 'Soup held-out with it', 'Decision'], true));
  const body = document.createElement('tbody');
  steps.forEach((s, i) => body.appendChild(row([String(i + 1), s.candidate, formatPercent(s.heldout), i === 0 ? 'start' : s.added ? 'kept' : 'rejected'], false)));
  table.append(head, body);
  details.appendChild(table);
  return details;
}
