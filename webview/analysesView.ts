import { formatDecimal, formatGain, formatPercent } from '../src/shared/format';
import { shortRunLabels } from '../src/shared/runLabels';
import type { Analyses, AnglesAnalysis, CalibrationAnalysis, LearnedSoupAnalysis, SoupReport, WiseFtAnalysis } from '../src/shared/webviewProtocol';
import { analysisSection, dataTable, el } from './analysisDom';
import { chartFigure } from './chartFigure';
import { angleHeatmap, angleTable } from './heatmap';
import { reliabilityFigure } from './reliability';
import { barChart, decimalsFor, paddedRange, xyChart, type XYSeries } from './svgCharts';

// The analyses of a soup (report.analyses, issue 11) in the results panel: a section per
// analysis with its summary tables, and each chart with a "Table view" toggle to a table of the
// same numbers (webview/chartFigure.ts).

/** The analyses sections of a report; empty when it has none (a @1 report or `--analyses none`). */
export function analysesSections(report: SoupReport): HTMLElement[] {
  const a: Analyses | undefined = report.analyses;
  const labels = shortRunLabels(report.ingredients.map((i) => i.id));
  const out: HTMLElement[] = [];
  if (report.soup.mixWeights) {
    out.push(learnedWeights('learned-soup', 'Learned soup weights', report.soup.mixWeights, labels, 'This soup was fitted on the held-out set: its held-out accuracy is optimistic. Test and shift accuracies are the honest measures.'));
  }
  if (!a) return out;
  if (a.calibration) out.push(calibration(a.calibration));
  if (a.wiseFt) out.push(wiseFt(a.wiseFt));
  if (a.angles) out.push(angles(a.angles, labels));
  if (a.learned) out.push(learned(a.learned, labels));
  if (a.skipped.length > 0) {
    const s = analysisSection('skipped', 'Analyses not run', '');
    const list = document.createElement('ul');
    for (const k of a.skipped) list.appendChild(el('li', `${k.id}: ${k.reason}`));
    s.appendChild(list);
    out.push(s);
  }
  return out;
}

function calibration(cal: CalibrationAnalysis): HTMLElement {
  const s = analysisSection('calibration', 'Calibration', `ECE with ${cal.settings.bins} equal-width bins, NLL and Brier score (lower is better). Temperature scaling is fitted on held-out NLL.`);
  const models = [
    { label: 'Soup', name: 'soup', colour: 'c-soup', shape: 'circle' as const },
    { label: `Best individual (${cal.bestIndividual ?? '—'})`, name: cal.bestIndividual ?? '', colour: 'c-best', shape: 'square' as const },
    { label: 'Logit ensemble', name: 'ensemble', colour: 'c-ensemble', shape: 'diamond' as const },
  ].filter((m) => m.name !== '' && cal.models[m.name] !== undefined);
  const rows: string[][] = [];
  for (const { label, name } of models) {
    const m = cal.models[name];
    for (const [dataset, v] of [['held-out', m.datasets.heldout], ['test', m.datasets.test], ['shift avg', m.shiftAvg]] as const) {
      if (v) rows.push([label, dataset, formatPercent(v.acc, 2), formatDecimal(v.ece), formatDecimal(v.nll), formatDecimal(v.brier)]);
    }
  }
  s.appendChild(dataTable('Calibration of the soup, the best individual and the ensemble', ['Model', 'Dataset', 'Accuracy', 'ECE', 'NLL', 'Brier'], rows));
  if (cal.temperature.length > 0) {
    const arrow = (a?: number, b?: number) => `${formatDecimal(a)} → ${formatDecimal(b)}`;
    s.appendChild(
      dataTable(
        'Temperature scaling (ECE and NLL before → after)',
        ['Model', 'T', 'Held-out ECE', 'Held-out NLL', 'Test ECE', 'Test NLL'],
        cal.temperature.map((t) => {
          const h = t.datasets.heldout;
          const te = t.datasets.test;
          return [t.model, formatDecimal(t.T, 3), arrow(h?.eceBefore, h?.eceAfter), arrow(h?.nllBefore, h?.nllAfter), arrow(te?.eceBefore, te?.eceAfter), arrow(te?.nllBefore, te?.nllAfter)];
        }),
      ),
    );
  }
  const figure = reliabilityFigure(cal, models);
  if (figure) s.appendChild(figure);
  return s;
}

function wiseFt(w: WiseFtAnalysis): HTMLElement {
  const s = analysisSection('wiseft', 'WiSE-FT', '(1 − α)·θ0 + α·θ between the pretrained model (α = 0) and each endpoint (α = 1). The best α is the smallest on ties.');
  s.appendChild(
    dataTable(
      'Best α per curve',
      ['Endpoint', 'Best α held-out', 'Held-out', 'Best α shift avg', 'Shift avg'],
      w.curves.map((c) => [endpointName(c.endpoint), formatDecimal(c.bestAlpha.heldout?.alpha, 1), formatPercent(c.bestAlpha.heldout?.value, 2), formatDecimal(c.bestAlpha.shiftAvg?.alpha, 1), formatPercent(c.bestAlpha.shiftAvg?.value, 2)]),
    ),
  );
  const table = dataTable(
    'Accuracy per α',
    ['α', ...w.curves.flatMap((c) => [`${endpointName(c.endpoint)} held-out`, `${endpointName(c.endpoint)} shift avg`])],
    w.settings.alphas.map((alpha, i) => [formatDecimal(alpha, 1), ...w.curves.flatMap((c) => [formatPercent(c.points[i]?.acc.heldout, 2), formatPercent(c.points[i]?.shiftAvgAcc, 2)])]),
  );
  const colours = ['c-soup', 'c-best'];
  const shapes = ['circle', 'square'] as const;
  const series: XYSeries[] = w.curves.map((c, i) => ({
    label: endpointName(c.endpoint),
    colour: colours[i % 2],
    shape: shapes[i % 2],
    line: true,
    points: c.points.flatMap((p) => (p.acc.heldout === undefined || p.shiftAvgAcc === undefined ? [] : [{ x: p.acc.heldout, y: p.shiftAvgAcc, name: `α = ${formatDecimal(p.alpha, 1)}` }])),
  }));
  const all = series.flatMap((c) => c.points);
  if (all.length === 0) {
    s.appendChild(table);
    return s;
  }
  const start = series[0].points[0];
  const chart = xyChart(
    'WiSE-FT: held-out accuracy against shift-average accuracy as α goes from 0 (the pretrained model) to 1, one curve per endpoint.',
    series,
    { x: paddedRange(all.map((p) => p.x)), y: paddedRange(all.map((p) => p.y)), xLabel: 'held-out accuracy', yLabel: 'shift-average accuracy', xFormat: percentTick, yFormat: percentTick },
    start ? [{ x: start.x, y: start.y, text: 'pretrained (α = 0)' }] : [],
  );
  s.appendChild(chartFigure('Held-out against shift average', 'Each curve runs from the pretrained model (α = 0) to its endpoint (α = 1) in steps of 0.1: the WiSE-FT paper’s figure. Up and to the right is better.', chart, table).figure);
  return s;
}

function angles(g: AnglesAnalysis, labels: Map<string, string>): HTMLElement {
  const s = analysisSection('angles', 'Angles between fine-tuning directions', `The angle between θi − θ0 and θj − θ0 for every pair; 2-ingredient soups evaluated: ${g.pairsEvaluated} of ${g.pairsTotal} pairs (${g.settings.selection}).`);
  const corr = Object.entries(g.correlation);
  if (corr.length > 0) s.appendChild(dataTable('Angle against the 2-soup gain', ['Dataset', 'Pearson', 'Spearman', 'Pairs'], corr.map(([k, c]) => [gainName(k), formatDecimal(c.pearson, 3), formatDecimal(c.spearman, 3), String(c.n)])));
  s.appendChild(chartFigure('Angle heatmap', 'The angle between the fine-tuning directions of each pair of ingredients, in degrees: 90° means unrelated directions, smaller means they moved alike.', angleHeatmap(g, labels), angleTable(g, labels)).figure);
  const evaluated = g.pairs.filter((p) => p.soup);
  if (evaluated.length === 0) return s;
  const name = (id: string) => labels.get(id) ?? id;
  const keys = [
    { key: 'heldout', colour: 'c-heldout', shape: 'circle' as const },
    { key: 'test', colour: 'c-test', shape: 'square' as const },
    { key: 'shiftAvg', colour: 'c-shift', shape: 'triangle' as const },
  ].filter((k) => evaluated.some((p) => p.soup?.gain[k.key] !== undefined));
  const series: XYSeries[] = keys.map((k) => ({
    label: gainName(k.key),
    colour: k.colour,
    shape: k.shape,
    line: false,
    points: evaluated.flatMap((p) => {
      const v = p.soup?.gain[k.key];
      return v === undefined ? [] : [{ x: p.angleDeg, y: v, name: `${name(p.i)} + ${name(p.j)}` }];
    }),
  }));
  const all = series.flatMap((c) => c.points);
  const table = dataTable(
    'Evaluated pairs: angle and the gain of their 2-soup over the pair’s mean accuracy',
    ['Pair', 'Angle', ...keys.map((k) => `Gain ${gainName(k.key)}`)],
    evaluated.map((p) => [{ text: `${name(p.i)} + ${name(p.j)}`, title: `${p.i} + ${p.j}` }, `${formatDecimal(p.angleDeg, 1)}°`, ...keys.map((k) => gain(p.soup?.gain[k.key]))]),
  );
  const y = paddedRange([0, ...all.map((p) => p.y)]);
  const chart = xyChart(
    `Angle against the gain of the 2-ingredient soup over the pair's mean accuracy, ${evaluated.length} pairs, for ${keys.map((k) => gainName(k.key)).join(', ')}.`,
    series,
    { x: paddedRange(all.map((p) => p.x)), y, xLabel: 'angle (degrees)', yLabel: 'gain (pp)', xFormat: (v, step) => `${formatDecimal(v, step === undefined ? 1 : decimalsFor(step))}°`, yFormat: (v, step) => formatDecimal(v * 100, step === undefined ? 1 : decimalsFor(step * 100)), zeroY: true },
  );
  s.appendChild(chartFigure('Angle against 2-soup gain', 'Each pair appears once per dataset: the seed review’s figure. Above the dashed line the 2-soup beats the mean of its two ingredients.', chart, table).figure);
  return s;
}

function learned(l: LearnedSoupAnalysis, labels: Map<string, string>): HTMLElement {
  const s = learnedWeights('learned', 'Learned soup', l.weights, labels, l.note);
  s.appendChild(
    dataTable('Learned soup against its start', ['Soup', 'Held-out correct', 'Test correct', 'Shift avg'], [
      ['learned', String(l.correct.heldout ?? '—'), String(l.correct.test ?? '—'), formatPercent(l.shiftAvgAcc, 2)],
      [l.settings.start, String(l.start.correct.heldout ?? '—'), String(l.start.correct.test ?? '—'), formatPercent(l.start.shiftAvgAcc, 2)],
    ]),
  );
  return s;
}

/** Mixing weights as a bar chart with its table view, and the warning that held-out numbers are optimistic. */
function learnedWeights(id: string, title: string, weights: Record<string, number>, labels: Map<string, string>, note: string): HTMLElement {
  const s = analysisSection(id, title, '');
  s.appendChild(el('p', note, 'hint warning'));
  const sorted = Object.entries(weights).sort((a, b) => b[1] - a[1]);
  const table = dataTable('Mixing weights', ['Ingredient', 'Weight'], sorted.map(([ing, w]) => [{ text: labels.get(ing) ?? ing, title: ing }, formatDecimal(w, 4)]));
  const chart = barChart(
    `Mixing weights of ${sorted.length} ingredients, largest first.`,
    sorted.map(([ing, w]) => ({ label: labels.get(ing) ?? ing, title: ing, value: w, text: formatDecimal(w, 3) })),
    'c-soup',
  );
  s.appendChild(chartFigure('Mixing weights', 'softmax(z): the share of each ingredient in the learned soup; 0 leaves it out.', chart, table).figure);
  return s;
}

/** An accuracy: a tick with the decimals its step needs, a point with two. */
function percentTick(v: number, step?: number): string {
  return formatPercent(v, step === undefined ? 2 : decimalsFor(step * 100));
}

function endpointName(endpoint: string): string {
  return endpoint === 'soup' ? 'soup' : `best individual (${endpoint})`;
}

function gainName(key: string): string {
  return key === 'heldout' ? 'held-out' : key === 'shiftAvg' ? 'shift avg' : key;
}

/** A 2-soup's gain (already a difference of accuracies) in percentage points. */
function gain(v: number | undefined): string {
  return formatGain(v, 0);
}
