import { el } from './analysisDom';

let figures = 0;

/** A chart with its table view; `show` replaces both (the reliability diagram's dataset choice). */
export interface ChartFigure {
  figure: HTMLElement;
  /** Where controls beside the toggle go (a dataset picker). */
  controls: HTMLElement;
  show(chart: SVGSVGElement, table: HTMLElement): void;
}

/**
 * A figure holding a chart and a table with the same numbers, and a "Table view" toggle button
 * (aria-pressed, aria-controls naming both views) between them: the table is the chart for
 * screen readers, keyboard users and high-contrast themes.
 */
export function chartFigure(title: string, caption: string, chart?: SVGSVGElement, table?: HTMLElement): ChartFigure {
  const id = `analysis-figure-${++figures}`;
  const figure = el('figure', '', 'analysis-figure');
  const head = el('div', '', 'figure-head');
  const heading = el('h3', title);
  heading.id = `${id}-title`;
  figure.setAttribute('aria-labelledby', heading.id);
  const controls = el('div', '', 'figure-controls');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'view-toggle';
  button.textContent = 'Table view';
  button.setAttribute('aria-pressed', 'false');
  button.setAttribute('aria-controls', `${id}-chart ${id}-table`);
  controls.appendChild(button);
  head.append(heading, controls);
  const chartView = el('div', '', 'figure-chart');
  chartView.id = `${id}-chart`;
  const tableView = el('div', '', 'figure-table');
  tableView.id = `${id}-table`;
  tableView.hidden = true;
  button.addEventListener('click', () => {
    const table = button.getAttribute('aria-pressed') !== 'true';
    button.setAttribute('aria-pressed', String(table));
    chartView.hidden = table;
    tableView.hidden = !table;
  });
  figure.append(head, chartView, tableView, el('figcaption', caption, 'muted'));
  const show = (c: SVGSVGElement, t: HTMLElement): void => {
    chartView.replaceChildren(c);
    tableView.replaceChildren(t);
  };
  if (chart && table) show(chart, table);
  return { figure, controls, show };
}
