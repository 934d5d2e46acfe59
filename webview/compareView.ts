import { provideVSCodeDesignSystem, vsCodeButton, vsCodeDivider } from '@vscode/webview-ui-toolkit';
import { assertNever } from '../src/shared/assertNever';
import { parseComparePanelState, parseHostToCompare, type CompareInitMessage, type ComparePanelState, type CompareToHost } from '../src/shared/compareProtocol';
import { formatDecimal, formatGain, formatPercent } from '../src/shared/format';
import { compareSoups, datasetLabel, type DatasetComparison, type SoupComparison } from '../src/shared/soupComparison';
import { el } from './analysisDom';

// The compare panel's page (its own bundle, dist/compare.js): two soups side by side and B − A
// per dataset. Tables first (they are what a screen reader and a high-contrast theme get); the
// chart sits behind a toggle. Built with DOM calls and textContent only: soup and run names are
// folder names, which may contain markup.

interface CompareApi {
  postMessage(msg: CompareToHost): void;
  getState(): unknown;
  setState(state: ComparePanelState): void;
}
declare function acquireVsCodeApi(): CompareApi;
const vscodeApi = acquireVsCodeApi();

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDivider());

const app = document.getElementById('app') as HTMLElement;
const status = document.getElementById('status') as HTMLElement;
/** Two decimals: one example in 2000 is 0.05 points, which one decimal would round away. */
const DIGITS = 2;

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = parseHostToCompare(event.data);
  if (!parsed.ok) {
    console.warn(`model-soups compare: dropped a message (${parsed.problem})`);
    return;
  }
  const msg = parsed.message;
  switch (msg.type) {
    case 'init':
      vscodeApi.setState({ soupDirs: [msg.a.soupDir, msg.b.soupDir] });
      render(msg);
      return;
    case 'loadError':
      vscodeApi.setState({ soupDirs: msg.soupDirs });
      app.replaceChildren(el('h1', 'Compare soups'), el('p', `The soups could not be compared: ${msg.message}`, 'error'));
      status.textContent = 'The soups could not be compared.';
      vscodeApi.postMessage({ type: 'rendered', table: [], warnings: [msg.message], members: [], calibration: [], charts: 0 });
      return;
    default:
      assertNever(msg, 'host message');
  }
});

function render(msg: CompareInitMessage): void {
  const c = compareSoups(msg.a.report, msg.b.report);
  const accuracy = accuracyTable(c);
  const calibration = c.calibration && c.calibration.length > 0 ? calibrationTable(c) : undefined;
  const chart = diffChart(c.datasets);
  app.replaceChildren(
    header(msg, c),
    actions(),
    ...(c.warnings.length > 0 ? [warnings(c.warnings)] : []),
    el('vscode-divider'),
    section('Accuracy per dataset', 'Each soup’s accuracy and correct count; B − A in percentage points (+ when soup B is higher, − when soup A is).', accuracy, chart.element),
    membersSection(c),
    ...(calibration ? [section('Calibration of the soups', 'Expected calibration error and negative log-likelihood (lower is better), from each report’s calibration analysis.', calibration)] : []),
  );
  const avg = c.datasets.find((d) => d.kind === 'shiftAvg');
  const held = c.datasets.find((d) => d.kind === 'heldout');
  status.textContent = `Soup B ${c.b.name} vs soup A ${c.a.name}: held-out ${formatGain(held?.b, held?.a, DIGITS)}, shift average ${formatGain(avg?.b, avg?.a, DIGITS)}.`;
  const rowsOf = (t: HTMLElement): string[][] => Array.from(t.querySelectorAll('tr'), (r) => Array.from(r.children, (cell) => cell.textContent ?? ''));
  vscodeApi.postMessage({
    type: 'rendered',
    table: rowsOf(accuracy),
    warnings: Array.from(app.querySelectorAll('.compare-warnings li'), (w) => w.textContent ?? ''),
    members: Array.from(app.querySelectorAll('.compare-members p'), (m) => m.textContent ?? ''),
    calibration: calibration ? rowsOf(calibration) : [],
    charts: chart.drawn,
  });
}

function header(msg: CompareInitMessage, c: SoupComparison): HTMLElement {
  const h = el('header');
  h.appendChild(el('h1', `Compare soups: ${c.a.name} (A) and ${c.b.name} (B)`));
  const sides = el('div', '', 'compare-sides');
  for (const [letter, s, label] of [['A', c.a, msg.a.methodLabel], ['B', c.b, msg.b.methodLabel]] as const) {
    const card = el('section', '', 'compare-side');
    card.setAttribute('aria-label', `Soup ${letter}`);
    card.append(el('h2', `Soup ${letter}: ${s.name}`));
    const facts = el('p', '', 'summary');
    facts.append(
      el('span', label, 'fact'),
      el('span', `${s.members.length} of ${s.candidates} ingredient${s.candidates === 1 ? '' : 's'} (${s.ingredientsFound} found)`, 'fact'),
      el('span', `cooked ${new Date(s.createdAt).toLocaleString()}`, 'fact'),
    );
    card.appendChild(facts);
    sides.appendChild(card);
  }
  h.appendChild(sides);
  return h;
}

function actions(): HTMLElement {
  const bar = el('div', '', 'actions');
  const button = (text: string, msg: CompareToHost, appearance: 'primary' | 'secondary'): HTMLElement => {
    const b = el('vscode-button', text);
    b.setAttribute('appearance', appearance);
    b.addEventListener('click', () => vscodeApi.postMessage(msg));
    return b;
  };
  bar.append(button('Swap A and B', { type: 'swap' }, 'primary'), button('Show results of A', { type: 'showResults', side: 'a' }, 'secondary'), button('Show results of B', { type: 'showResults', side: 'b' }, 'secondary'));
  return bar;
}

function warnings(list: string[]): HTMLElement {
  const box = el('div', '', 'compare-warnings');
  box.setAttribute('role', 'note');
  const ul = el('ul');
  for (const w of list) ul.appendChild(el('li', w));
  box.append(el('strong', 'Read the differences with care'), ul);
  return box;
}

function accuracyTable(c: SoupComparison): HTMLElement {
  const rows = c.datasets.map((d) => {
    const diff = el('td', diffText(d), `num ${diffClass(d)}`);
    return [el('th', datasetLabel(d.key, d.kind)), el('td', d.onlyIn === 'b' ? 'not evaluated' : formatPercent(d.a, DIGITS), 'num'), el('td', countText(d.correctA, d.nA), 'num'), el('td', d.onlyIn === 'a' ? 'not evaluated' : formatPercent(d.b, DIGITS), 'num'), el('td', countText(d.correctB, d.nB), 'num'), diff, el('td', verdict(d))];
  });
  return table(`Accuracy of soup A (${c.a.name}) and soup B (${c.b.name}) per dataset, and B − A`, ['Dataset', 'A accuracy', 'A correct', 'B accuracy', 'B correct', 'B − A', 'Which is higher'], rows, 'compare-table');
}

function calibrationTable(c: SoupComparison): HTMLElement {
  const rows = (c.calibration ?? []).map((r) => [el('th', datasetLabel(r.key, r.kind)), el('td', formatDecimal(r.eceA), 'num'), el('td', formatDecimal(r.eceB), 'num'), el('td', formatDecimal(r.nllA), 'num'), el('td', formatDecimal(r.nllB), 'num')]);
  return table('Calibration of soup A and soup B (lower is better)', ['Dataset', 'A ECE', 'B ECE', 'A NLL', 'B NLL'], rows, 'compare-table');
}

/** The signed difference as text, so that it never relies on colour alone. */
function diffText(d: DatasetComparison): string {
  if (d.onlyIn) return '—';
  return formatGain(d.b, d.a, DIGITS);
}

function diffClass(d: DatasetComparison): string {
  if (d.diffPp === undefined || !d.sameData) return 'diff-none';
  const shown = formatGain(d.b, d.a, DIGITS);
  return shown.startsWith('+') ? 'diff-up' : shown.startsWith('−') ? 'diff-down' : 'diff-none';
}

function verdict(d: DatasetComparison): string {
  if (d.onlyIn) return `only soup ${d.onlyIn.toUpperCase()} was evaluated on it`;
  const shown = formatGain(d.b, d.a, DIGITS);
  const side = shown.startsWith('+') ? 'B higher' : shown.startsWith('−') ? 'A higher' : 'the same';
  const by = d.correctA !== undefined && d.correctB !== undefined && d.correctA !== d.correctB ? ` (${Math.abs(d.correctB - d.correctA)} correct)` : '';
  return d.sameData ? `${side}${side === 'the same' ? '' : by}` : `${side}, but on other data: not comparable`;
}

function countText(correct: number | undefined, n: number | undefined): string {
  if (correct === undefined) return '—';
  return n === undefined ? String(correct) : `${correct} / ${n}`;
}

function membersSection(c: SoupComparison): HTMLElement {
  const body = el('div', '', 'compare-members');
  const line = (title: string, ids: string[]): HTMLElement => {
    const p = el('p');
    p.append(el('span', `${title} (${ids.length}): `, 'muted'), el('span', ids.length > 0 ? ids.join(', ') : 'none'));
    return p;
  };
  body.append(line('In both soups', c.members.common), line(`Only in A (${c.a.name})`, c.members.onlyA), line(`Only in B (${c.b.name})`, c.members.onlyB));
  return section('Members', 'Ingredient ids, in the order each soup added them.', body);
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * B − A per dataset as horizontal bars around zero, behind a toggle (the table above holds the
 * same numbers). Rows that cannot be compared get no bar, only their text.
 */
function diffChart(rows: DatasetComparison[]): { element: HTMLElement; drawn: number } {
  const shown = rows.filter((d) => d.diffPp !== undefined);
  const details = el('details', '', 'compare-chart');
  details.appendChild(el('summary', 'Show B − A as a chart'));
  if (shown.length === 0) {
    details.appendChild(el('p', 'No dataset was evaluated for both soups.', 'muted'));
    return { element: details, drawn: 0 };
  }
  const rowH = 22;
  const width = 560;
  const labelW = 170;
  const valueW = 80;
  const plotW = width - labelW - valueW;
  const height = shown.length * rowH + 24;
  const max = Math.max(0.5, ...shown.map((d) => Math.abs(d.diffPp as number)));
  const x = (pp: number): number => labelW + plotW / 2 + (pp / max) * (plotW / 2 - 4);
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'compare-svg' });
  svg.setAttribute('aria-label', `B − A in percentage points per dataset: ${shown.map((d) => `${datasetLabel(d.key, d.kind)} ${diffText(d)}`).join('; ')}`);
  svg.appendChild(svgEl('line', { x1: x(0), y1: 4, x2: x(0), y2: height - 18, class: 'axis' }));
  shown.forEach((d, i) => {
    const y = 6 + i * rowH;
    const pp = d.diffPp as number;
    svg.appendChild(svgText(datasetLabel(d.key, d.kind), 4, y + 13, 'label'));
    const bar = svgEl('rect', { x: Math.min(x(0), x(pp)), y, width: Math.abs(x(pp) - x(0)), height: rowH - 6, class: `bar ${diffClass(d)}` });
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${datasetLabel(d.key, d.kind)}: ${diffText(d)}`;
    bar.appendChild(title);
    svg.appendChild(bar);
    svg.appendChild(svgText(`${diffText(d)}${d.sameData ? '' : ' *'}`, width - valueW + 6, y + 13, `value ${diffClass(d)}`));
  });
  svg.appendChild(svgText(`← A higher · B higher →  (scale ±${max.toFixed(DIGITS)} pp${shown.some((d) => !d.sameData) ? '; * other data' : ''})`, labelW, height - 4, 'label'));
  details.appendChild(svg);
  return { element: details, drawn: 1 };
}

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function svgText(text: string, x: number, y: number, className: string): SVGElement {
  const t = svgEl('text', { x, y, class: className });
  t.textContent = text;
  return t;
}

function table(caption: string, header: string[], rows: HTMLElement[][], className: string): HTMLElement {
  const t = document.createElement('table');
  t.className = className;
  t.appendChild(el('caption', caption));
  const head = document.createElement('thead');
  const hr = document.createElement('tr');
  header.forEach((h, i) => {
    // A title sits over its column: right-aligned over numbers, left over words.
    const th = el('th', h, rows[0]?.[i]?.classList.contains('num') ? 'num' : '');
    th.setAttribute('scope', 'col');
    hr.appendChild(th);
  });
  head.appendChild(hr);
  const body = document.createElement('tbody');
  for (const cells of rows) {
    const tr = document.createElement('tr');
    cells[0].setAttribute('scope', 'row');
    tr.append(...cells);
    body.appendChild(tr);
  }
  t.append(head, body);
  const wrap = el('div', '', 'table-scroll');
  wrap.appendChild(t);
  return wrap;
}

function section(title: string, note: string, ...body: HTMLElement[]): HTMLElement {
  const s = el('section');
  s.append(el('h2', title), ...(note ? [el('p', note, 'muted')] : []), ...body);
  return s;
}

// After a reload the page starts empty; the host answers `ready` with the reports again.
if (parseComparePanelState(vscodeApi.getState())) app.replaceChildren(el('p', 'Loading the two soup reports…', 'muted'));
vscodeApi.postMessage({ type: 'ready' });
