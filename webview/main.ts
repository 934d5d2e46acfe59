import { provideVSCodeDesignSystem, vsCodeButton, vsCodeDataGrid, vsCodeDataGridCell, vsCodeDataGridRow, vsCodeDivider } from '@vscode/webview-ui-toolkit';
import type { SoupMethodView, SoupReport } from '../src/shared/webviewProtocol';
import { assertNever } from '../src/shared/assertNever';
import { datasetsNote } from '../src/shared/datasetSummary';
import { formatGain, formatPercent } from '../src/shared/format';
import { parseHostToWebview, parsePanelState, REPORT_FILE, SOUP_MODEL_FILE, type InitMessage } from '../src/shared/webviewProtocol';
import { el } from './analysisDom';
import { analysesSections } from './analysesView';
import { drawCharts, type DrawnCharts } from './charts';
import { modelRows } from './rows';
import { buildTable } from './table';
import { scatterTable, shiftsTable, trajectoryTable } from './chartTables';
import { readPalette } from './theme';
import { recookButton } from './recookButton';
import { vscodeApi } from './vscodeApi';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDataGrid(), vsCodeDataGridRow(), vsCodeDataGridCell(), vsCodeDivider());

const app = document.getElementById('app') as HTMLElement;
// The one live region: a short line, so a screen reader announces the outcome, not the table.
const status = document.getElementById('status') as HTMLElement;
let current: InitMessage | undefined;
let charts: DrawnCharts | undefined;

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = parseHostToWebview(event.data);
  if (!parsed.ok) {
    console.warn(`model-soups results: dropped a message (${parsed.problem})`);
    return;
  }
  const msg = parsed.message;
  switch (msg.type) {
    case 'init':
      current = msg;
      vscodeApi.setState({ soupDir: msg.soupDir });
      render(msg);
      return;
    case 'loadError':
      vscodeApi.setState({ soupDir: msg.soupDir });
      app.replaceChildren(el('h1', 'Soup results'), el('p', `This soup's report could not be read: ${msg.message}`, 'error'));
      status.textContent = 'The soup report could not be read.';
      return;
    default:
      assertNever(msg, 'host message');
  }
});

// VS Code swaps the body's theme class when the user changes theme: redraw the charts so they
// pick up the new colours (the table follows CSS variables by itself).
new MutationObserver(() => {
  if (current) drawInto(current);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

function render(msg: InitMessage): void {
  const r = msg.report;
  const rows = modelRows(r, msg.method);
  const scroller = el('div', '', 'table-scroll');
  scroller.appendChild(buildTable(r, rows));
  app.replaceChildren(
    header(r, msg.method.label),
    actions(),
    el('vscode-divider'),
    section('Comparison', `Accuracy on every dataset; ★ marks the best value in each column. A soup costs one model at inference, the ensemble costs K. ${datasetsNote(r)}`.trim(), scroller),
    el('vscode-divider'),
    chartsSection(r, msg.method),
    ...analysesSections(r),
  );
  status.textContent = `${msg.method.label} ${r.name}: held-out ${formatPercent(r.soup.metrics.heldout)}, shift average ${formatPercent(r.soup.metrics.shiftAvg)}, ${r.soup.members.length} members.`;
  const drawn = drawInto(msg);
  const labels = Array.from(app.querySelectorAll('vscode-data-grid-row:not([row-type="header"]) > vscode-data-grid-cell[grid-column="1"]'), (c) => c.textContent ?? '');
  const summary = Array.from(app.querySelectorAll('header .fact'), (f) => f.textContent ?? '').join(' · ');
  const cards = Array.from(app.querySelectorAll('.charts canvas'), (c) => c.id);
  const hints = Array.from(app.querySelectorAll('.hint'), (h) => h.textContent ?? '');
  vscodeApi.postMessage({ type: 'rendered', rows: rows.length, charts: drawn, labels, summary, cards, hints });
}

function drawInto(msg: InitMessage): number {
  charts?.destroy();
  const canvas = (id: string): HTMLCanvasElement | undefined => (document.getElementById(id) as HTMLCanvasElement | null) ?? undefined;
  charts = drawCharts(msg.report, msg.method, { scatter: canvas('chart-scatter'), trajectory: canvas('chart-trajectory'), shifts: canvas('chart-shifts') }, readPalette());
  return charts.count;
}

function header(r: SoupReport, methodLabel: string): HTMLElement {
  const best = r.baselines.bestIndividual.metrics;
  const soup = r.soup.metrics;
  const h = el('header');
  h.appendChild(el('h1', `${methodLabel}: ${r.name}`));
  const facts = el('p', '', 'summary');
  // "5 of 10 checked (12 found)": the cook's candidates are the checked, usable runs.
  const checked = r.baselines.ensemble.members.length;
  const skipped = r.ingredients.filter((i) => i.status !== 'ok');
  facts.append(
    fact(`${r.soup.members.length} of ${checked} checked (${r.ingredients.length} found)`),
    fact(`held-out ${formatPercent(soup.heldout)} (${formatGain(soup.heldout, best.heldout)} vs best individual)`),
    fact(`shift avg ${formatPercent(soup.shiftAvg)} (${formatGain(soup.shiftAvg, best.shiftAvg)})`),
    fact(`cooked ${new Date(r.createdAt).toLocaleString()}`),
  );
  h.appendChild(facts);
  const members = el('p', '', 'members');
  members.append(el('span', 'Members, in the order added: ', 'muted'), el('span', r.soup.members.join(', ')));
  h.appendChild(members);
  if (skipped.length > 0) {
    const note = el('p', '', 'skipped hint');
    note.append(el('span', `Skipped ${skipped.length} unusable run${skipped.length === 1 ? '' : 's'}: `, 'muted'), el('span', skipped.map((i) => `${i.id} (${i.status}: ${i.reason ?? 'no reason given'})`).join('; ')));
    h.appendChild(note);
  }
  return h;
}

function actions(): HTMLElement {
  const bar = el('div', '', 'actions');
  const button = (text: string, type: 'revealModel' | 'openReport' | 'copyMembers', appearance: 'primary' | 'secondary'): HTMLElement => {
    const b = el('vscode-button', text);
    b.setAttribute('appearance', appearance);
    b.addEventListener('click', () => vscodeApi.postMessage({ type }));
    return b;
  };
  bar.append(button(`Reveal ${SOUP_MODEL_FILE}`, 'revealModel', 'primary'), button(`Open ${REPORT_FILE}`, 'openReport', 'secondary'), button('Copy member list', 'copyMembers', 'secondary'), recookButton());
  return bar;
}

/** Only the cards that apply: shift charts need shift sets, the trajectory needs greedy steps. */
function chartsSection(r: SoupReport, method: SoupMethodView): HTMLElement {
  const wrap = el('div', '', 'charts');
  const figure = (id: string, title: string, caption: string, wide = false): HTMLElement => {
    const f = el('figure', '', wide ? 'chart chart-wide' : 'chart');
    f.appendChild(el('h3', title));
    const box = el('div', '', 'chart-box');
    const c = document.createElement('canvas');
    c.id = id;
    c.setAttribute('role', 'img');
    // Reachable with Tab, so keyboard users can focus a chart and hear what it shows.
    c.tabIndex = 0;
    c.setAttribute('aria-label', `${title}. ${caption}`);
    box.appendChild(c);
    f.append(box, el('figcaption', caption, 'muted'));
    return f;
  };
  const hasShifts = r.shiftNames.length > 0;
  if (hasShifts) {
    const f = figure('chart-scatter', 'In-distribution vs. distribution shift', 'Each dot is a fine-tuned ingredient; soups and the ensemble are the large markers. Up and to the right is better. A baseline outside the runs’ range sits on the edge, pointing where it lies.');
    f.appendChild(scatterTable(r, method));
    wrap.append(f);
  }
  if (r.steps.length > 0) {
    const f = figure('chart-trajectory', 'Greedy trajectory', 'Held-out accuracy of the soup after each candidate; kept candidates in green, rejected ones crossed out.');
    f.appendChild(trajectoryTable(r.steps));
    wrap.append(f);
  }
  if (hasShifts) {
    const f = figure('chart-shifts', 'Accuracy per distribution shift', 'Best individual, uniform soup, this soup and the logit ensemble on each shift dataset.', true);
    f.appendChild(shiftsTable(r, method));
    wrap.append(f);
  }
  const body = el('div');
  if (!hasShifts) body.appendChild(el('p', 'No shift sets are configured, so there is no shift average and no shift charts. To add them, run “Model Soups: Configure Evaluation Data” and tick the distribution-shift datasets in step 3, then cook again.', 'muted hint'));
  if (wrap.childElementCount > 0) body.appendChild(wrap);
  return section('Charts', '', body);
}

function section(title: string, note: string, body: HTMLElement): HTMLElement {
  const s = el('section');
  s.appendChild(el('h2', title));
  if (note) s.appendChild(el('p', note, 'muted'));
  s.appendChild(body);
  return s;
}

function fact(text: string): HTMLElement {
  return el('span', text, 'fact');
}


// After a reload the page starts empty; the host answers `ready` with the report again.
if (parsePanelState(vscodeApi.getState())) app.replaceChildren(el('p', 'Loading the soup report…', 'muted'));
vscodeApi.postMessage({ type: 'ready' });
