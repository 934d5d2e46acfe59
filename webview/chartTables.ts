import { formatPercent } from '../src/shared/format';
import { dataTable, el } from './analysisDom';
import type { GreedyStep, SoupMethodView, SoupReport } from '../src/shared/webviewProtocol';

/**
 * The results charts' numbers as tables behind a disclosure, one per chart: chart.js draws
 * pixels only, so a screen reader, a keyboard user or a high-contrast theme gets the same
 * numbers here (the analyses charts have their own Table view toggle, chartFigure.ts).
 */
function numbersTable(className: string, summaryText: string, caption: string, headers: string[], rows: string[][]): HTMLElement {
  const details = el('details', '', className);
  details.append(el('summary', summaryText), dataTable(caption, headers, rows));
  return details;
}

const pct = (v: number | undefined): string => (v === undefined ? '—' : formatPercent(v));

/** The greedy trajectory: which candidate was tried at each step, the soup's held-out accuracy with it, and whether it was kept. */
export function trajectoryTable(steps: readonly GreedyStep[]): HTMLElement {
  const rows = steps.map((s, i) => [String(i + 1), s.candidate, formatPercent(s.heldout), i === 0 ? 'start' : s.added ? 'kept' : 'rejected']);
  return numbersTable('steps', `Show the ${steps.length} greedy steps as a table`, 'Greedy steps: candidates in held-out order', ['Step', 'Candidate', 'Soup held-out with it', 'Decision'], rows);
}

/** The in-distribution vs. shift scatter: every point's two coordinates (test, else held-out, against the shift average). */
export function scatterTable(report: SoupReport, method: SoupMethodView): HTMLElement {
  const useTest = report.soup.metrics.test !== undefined;
  const b = report.baselines;
  type Point = { test?: number; heldout?: number; shiftAvg?: number } | undefined;
  const models: [string, Point][] = [[method.label, report.soup.metrics], [`Logit ensemble (${b.ensemble.members.length}× cost)`, b.ensemble.metrics]];
  if (!method.produces.uniformSoup) models.push(['Uniform soup', b.uniform.metrics]);
  for (const i of report.ingredients) models.push([i.id === b.bestIndividual.members[0] ? `${i.id} (best individual)` : i.id, i.metrics]);
  const rows = models.map(([label, m]) => [label, pct(useTest ? m?.test : m?.heldout), pct(m?.shiftAvg)]);
  return numbersTable('chart-numbers', 'Show the plotted points as a table', `Each model's ${useTest ? 'test' : 'held-out'} accuracy and shift average`, ['Model', useTest ? 'Test' : 'Held-out', 'Shift average'], rows);
}

/** The per-shift bars: each shift set's accuracy for the best individual, the uniform soup, this soup and the ensemble. */
export function shiftsTable(report: SoupReport, method: SoupMethodView): HTMLElement {
  const b = report.baselines;
  const series: [string, Record<string, number>][] = [
    ['Best individual', b.bestIndividual.metrics.shifts],
    ['Uniform soup', b.uniform.metrics.shifts],
    ...(!method.produces.uniformSoup ? [[method.label, report.soup.metrics.shifts] as [string, Record<string, number>]] : []),
    ['Logit ensemble', b.ensemble.metrics.shifts],
  ];
  const rows = report.shiftNames.map((s) => [s, ...series.map(([, shifts]) => pct(shifts[s]))]);
  return numbersTable('chart-numbers', 'Show the bars as a table', 'Accuracy on each distribution shift', ['Shift set', ...series.map(([label]) => label)], rows);
}
