import { formatDecimal, formatGain, formatPercent } from '../src/shared/format';
import type { Analyses, AnglesAnalysis, CalibrationAnalysis, LearnedSoupAnalysis, ReliabilityBin, SoupReport, WiseFtAnalysis } from '../src/shared/webviewProtocol';

// The analyses of a soup (report.analyses, issue 11) in the results panel: a section per
// analysis with its table (the accessible view, shown first) and a simple SVG chart behind a
// toggle. Built with DOM calls and textContent only: ids come from run folder names.

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 220;
const PAD = 32;

/** The analyses sections of a report; empty when it has none (a @1 report or `--analyses none`). */
export function analysesSections(report: SoupReport): HTMLElement[] {
  const a: Analyses | undefined = report.analyses;
  const out: HTMLElement[] = [];
  if (report.soup.mixWeights) out.push(learnedWeights('Learned soup weights', report.soup.mixWeights, 'This soup was fitted on the held-out set: its held-out accuracy is optimistic. Test and shift accuracies are the honest measures.'));
  if (!a) return out;
  if (a.calibration) out.push(calibration(a.calibration));
  if (a.wiseFt) out.push(wiseFt(a.wiseFt));
  if (a.angles) out.push(angles(a.angles));
  if (a.learned) out.push(learned(a.learned));
  if (a.skipped.length > 0) {
    const s = section('Analyses not run', '');
    const list = document.createElement('ul');
    for (const k of a.skipped) list.appendChild(el('li', `${k.id}: ${k.reason}`));
    s.appendChild(list);
    out.push(s);
  }
  return out;
}

function calibration(cal: CalibrationAnalysis): HTMLElement {
  const s = section('Calibration', `ECE with ${cal.settings.bins} equal-width bins, NLL and Brier score (lower is better). Temperature scaling is fitted on held-out NLL.`);
  const models: [string, string | undefined][] = [
    ['Soup', 'soup'],
    [`Best individual (${cal.bestIndividual ?? '—'})`, cal.bestIndividual],
    ['Logit ensemble', 'ensemble'],
  ];
  const present = models.filter((m): m is [string, string] => m[1] !== undefined && cal.models[m[1]] !== undefined);
  const rows: string[][] = [];
  for (const [label, name] of present) {
    const m = cal.models[name];
    for (const [dataset, v] of [['held-out', m.datasets.heldout], ['test', m.datasets.test], ['shift avg', m.shiftAvg]] as const) {
      if (v) rows.push([label, dataset, formatPercent(v.acc, 2), formatDecimal(v.ece), formatDecimal(v.nll), formatDecimal(v.brier)]);
    }
  }
  s.appendChild(table('Calibration of the soup, the best individual and the ensemble', ['Model', 'Dataset', 'Accuracy', 'ECE', 'NLL', 'Brier'], rows));
  if (cal.temperature.length > 0) {
    s.appendChild(
      table(
        'Temperature scaling (ECE and NLL before → after)',
        ['Model', 'T', 'Held-out ECE', 'Held-out NLL', 'Test ECE', 'Test NLL'],
        cal.temperature.map((t) => {
          const h = t.datasets.heldout;
          const te = t.datasets.test;
          const arrow = (a?: number, b?: number) => `${formatDecimal(a)} → ${formatDecimal(b)}`;
          return [t.model, formatDecimal(t.T, 3), arrow(h?.eceBefore, h?.eceAfter), arrow(h?.nllBefore, h?.nllAfter), arrow(te?.eceBefore, te?.eceAfter), arrow(te?.nllBefore, te?.nllAfter)];
        }),
      ),
    );
  }
  // Reliability diagram on the test set (held-out without one): accuracy per confidence bin.
  const key = present.some(([, n]) => cal.models[n].datasets.test) ? 'test' : 'heldout';
  const series = present.flatMap(([label, name]) => {
    const bins = cal.models[name].datasets[key]?.reliability;
    return bins ? [{ label, points: reliabilityPoints(bins) }] : [];
  });
  s.appendChild(chart(`Reliability diagram on ${key === 'test' ? 'test' : 'held-out'}: accuracy against mean confidence per bin; the diagonal is perfect calibration.`, series, { x: [0, 1], y: [0, 1], xLabel: 'confidence', yLabel: 'accuracy', diagonal: true }));
  return s;
}

function reliabilityPoints(bins: ReliabilityBin[]): [number, number][] {
  return bins.flatMap((b) => (b.meanConf === null || b.acc === null ? [] : [[b.meanConf, b.acc] as [number, number]]));
}

function wiseFt(w: WiseFtAnalysis): HTMLElement {
  const s = section('WiSE-FT', '(1 − α)·θ0 + α·θ between the pretrained model (α = 0) and each endpoint (α = 1). The best α is the smallest on ties.');
  s.appendChild(
    table(
      'Best α per curve',
      ['Endpoint', 'Best α held-out', 'Held-out', 'Best α shift avg', 'Shift avg'],
      w.curves.map((c) => [endpointName(c.endpoint), formatDecimal(c.bestAlpha.heldout?.alpha, 1), formatPercent(c.bestAlpha.heldout?.value, 2), formatDecimal(c.bestAlpha.shiftAvg?.alpha, 1), formatPercent(c.bestAlpha.shiftAvg?.value, 2)]),
    ),
  );
  s.appendChild(
    table(
      'Accuracy per α',
      ['α', ...w.curves.flatMap((c) => [`${endpointName(c.endpoint)} held-out`, `${endpointName(c.endpoint)} shift avg`])],
      w.settings.alphas.map((alpha, i) => [formatDecimal(alpha, 1), ...w.curves.flatMap((c) => [formatPercent(c.points[i]?.acc.heldout, 2), formatPercent(c.points[i]?.shiftAvgAcc, 2)])]),
    ),
  );
  const pts = w.curves.map((c) => ({ label: endpointName(c.endpoint), points: c.points.flatMap((p) => (p.acc.heldout === undefined || p.shiftAvgAcc === undefined ? [] : [[p.acc.heldout, p.shiftAvgAcc] as [number, number]])) }));
  const all = pts.flatMap((p) => p.points);
  if (all.length > 0) s.appendChild(chart('Held-out accuracy against shift-average accuracy as α goes from 0 to 1, one curve per endpoint.', pts, { x: range(all.map((p) => p[0])), y: range(all.map((p) => p[1])), xLabel: 'held-out', yLabel: 'shift avg' }));
  return s;
}

function angles(g: AnglesAnalysis): HTMLElement {
  const s = section('Angles between fine-tuning directions', `The angle between θi − θ0 and θj − θ0 for every pair; 2-ingredient soups evaluated: ${g.pairsEvaluated} of ${g.pairsTotal} pairs (${g.settings.selection}).`);
  const corr = Object.entries(g.correlation);
  if (corr.length > 0) s.appendChild(table('Angle against the 2-soup gain', ['Dataset', 'Pearson', 'Spearman', 'Pairs'], corr.map(([k, c]) => [k, formatDecimal(c.pearson, 3), formatDecimal(c.spearman, 3), String(c.n)])));
  const k = g.ids.length;
  s.appendChild(table('Angles in degrees', ['', ...g.ids], g.ids.map((id, i) => [id, ...g.ids.map((_, j) => (i === j ? '—' : formatDecimal(g.angleMatrix[i * k + j], 1)))])));
  s.appendChild(
    table(
      'Evaluated pairs',
      ['Pair', 'Angle', 'Gain held-out', 'Gain test', 'Gain shift avg'],
      g.pairs.filter((p) => p.soup).map((p) => [`${p.i} + ${p.j}`, `${formatDecimal(p.angleDeg, 1)}°`, gain(p.soup?.gain.heldout), gain(p.soup?.gain.test), gain(p.soup?.gain.shiftAvg)]),
    ),
  );
  return s;
}

function learned(l: LearnedSoupAnalysis): HTMLElement {
  const s = learnedWeights('Learned soup', l.weights, l.note);
  s.appendChild(
    table('Learned soup against its start', ['Soup', 'Held-out correct', 'Test correct', 'Shift avg'], [
      ['learned', String(l.correct.heldout ?? '—'), String(l.correct.test ?? '—'), formatPercent(l.shiftAvgAcc, 2)],
      [l.settings.start, String(l.start.correct.heldout ?? '—'), String(l.start.correct.test ?? '—'), formatPercent(l.start.shiftAvgAcc, 2)],
    ]),
  );
  return s;
}

/** Mixing weights as a table and a bar chart, with the warning that held-out numbers are optimistic. */
function learnedWeights(title: string, weights: Record<string, number>, note: string): HTMLElement {
  const s = section(title, '');
  s.appendChild(el('p', note, 'hint warning'));
  const sorted = Object.entries(weights).sort((a, b) => b[1] - a[1]);
  s.appendChild(table('Mixing weights', ['Ingredient', 'Weight'], sorted.map(([id, w]) => [id, formatDecimal(w, 4)])));
  const svg = svgRoot('Mixing weights as bars');
  const bar = (H - 2 * PAD) / Math.max(1, sorted.length);
  sorted.forEach(([id, w], i) => {
    const r = svgEl('rect', { x: PAD * 3, y: PAD + i * bar, width: Math.max(0, w) * (W - PAD * 4), height: Math.max(1, bar - 2), class: 'series-0' });
    r.appendChild(svgText('title', `${id}: ${formatDecimal(w, 4)}`));
    svg.appendChild(r);
  });
  s.appendChild(toggle(svg));
  return s;
}

interface Axes {
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
  diagonal?: boolean;
}

/** A line chart in SVG (one polyline with dots per series, in theme colours via CSS classes), behind a toggle. */
function chart(caption: string, series: { label: string; points: [number, number][] }[], axes: Axes): HTMLElement {
  const svg = svgRoot(caption);
  const sx = (v: number) => PAD + ((v - axes.x[0]) / (axes.x[1] - axes.x[0] || 1)) * (W - 2 * PAD);
  const sy = (v: number) => H - PAD - ((v - axes.y[0]) / (axes.y[1] - axes.y[0] || 1)) * (H - 2 * PAD);
  svg.appendChild(svgEl('rect', { x: PAD, y: PAD, width: W - 2 * PAD, height: H - 2 * PAD, class: 'frame' }));
  if (axes.diagonal) svg.appendChild(svgEl('line', { x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), class: 'diagonal' }));
  const label = (text: string, x: number, y: number): SVGElement => {
    const t = svgText('text', text);
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(y));
    svg.appendChild(t);
    return t;
  };
  label(axes.xLabel, W / 2 - 20, H - 6);
  label(axes.yLabel, 2, PAD - 8);
  series.forEach((s, i) => {
    const cls = `series-${i % 4}`;
    svg.appendChild(svgEl('polyline', { points: s.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '), class: `${cls} line` }));
    for (const [x, y] of s.points) svg.appendChild(svgEl('circle', { cx: sx(x), cy: sy(y), r: 3, class: cls }));
    label(`■ ${s.label}`, W - PAD - 150, PAD + 14 + i * 14).setAttribute('class', `${cls} legend`);
  });
  return toggle(svg);
}

/** A chart behind a disclosure: the tables above hold the same numbers for screen readers and high contrast. */
function toggle(svg: SVGSVGElement): HTMLElement {
  const d = document.createElement('details');
  d.className = 'analysis-chart';
  d.appendChild(el('summary', 'Show the chart'));
  d.appendChild(svg);
  return d;
}

function svgRoot(label: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('analysis-svg');
  return svg;
}

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function svgText(tag: 'text' | 'title', text: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  e.textContent = text;
  return e;
}

function table(caption: string, header: string[], rows: string[][]): HTMLElement {
  const t = document.createElement('table');
  t.className = 'analysis-table';
  t.appendChild(el('caption', caption));
  const tr = (cells: string[], head: boolean) => {
    const r = document.createElement('tr');
    cells.forEach((text, i) => {
      const c = document.createElement(head || i === 0 ? 'th' : 'td');
      c.setAttribute('scope', head ? 'col' : 'row');
      c.textContent = text;
      r.appendChild(c);
    });
    return r;
  };
  const thead = document.createElement('thead');
  thead.appendChild(tr(header, true));
  const tbody = document.createElement('tbody');
  for (const r of rows) tbody.appendChild(tr(r, false));
  t.append(thead, tbody);
  const wrap = el('div', '', 'table-scroll');
  wrap.appendChild(t);
  return wrap;
}

function section(title: string, note: string): HTMLElement {
  const s = document.createElement('section');
  s.className = 'analysis';
  s.appendChild(el('h2', title));
  if (note) s.appendChild(el('p', note, 'muted'));
  return s;
}

function el(tag: string, text = '', className = ''): HTMLElement {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function endpointName(endpoint: string): string {
  return endpoint === 'soup' ? 'soup' : `best individual (${endpoint})`;
}

/** A 2-soup's gain (already a difference of accuracies) in percentage points. */
function gain(v: number | undefined): string {
  return formatGain(v, 0);
}

function range(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.05 || 0.01;
  return [lo - pad, hi + pad];
}
