import { formatDecimal } from '../src/shared/format';
import type { CalibrationAnalysis, ReliabilityBin } from '../src/shared/webviewProtocol';
import { dataTable, el } from './analysisDom';
import { chartFigure } from './chartFigure';
import type { MarkerShape } from './svg';
import { decimalsFor, xyChart, type XYSeries } from './svgCharts';

/** The pooled shift sets' key in the dataset picker (no dataset has this name: shift names are plain words). */
const SHIFT_AVG = ' shift average';

interface Model {
  label: string;
  name: string;
  colour: string;
  shape: MarkerShape;
}

/** One bin of the diagram: what the reliability table holds, for any dataset or the shift pool. */
export interface Bin {
  lo: number;
  hi: number;
  count: number;
  meanConf: number | null;
  acc: number | null;
}

/**
 * The reliability diagram of the soup, the best individual and the logit ensemble, on a dataset
 * the user picks (held-out, test, each shift, the shift sets pooled), with its table view.
 */
export function reliabilityFigure(cal: CalibrationAnalysis, models: Model[]): HTMLElement | undefined {
  const datasets = datasetKeys(cal, models);
  if (datasets.length === 0) return undefined;
  const fig = chartFigure('Reliability diagram', 'Accuracy against mean confidence in each of the equal-width confidence bins; the dashed diagonal is perfect calibration, points below it are over-confident. The shift average pools the shift sets, each weighted equally.');
  const select = document.createElement('select');
  select.className = 'dataset-select';
  const shifts = datasets.filter((d) => d !== 'heldout' && d !== 'test');
  for (const d of [...datasets, ...(shifts.length > 1 ? [SHIFT_AVG] : [])]) {
    const o = document.createElement('option');
    o.value = d;
    o.textContent = datasetName(d);
    select.appendChild(o);
  }
  select.value = datasets.includes('test') ? 'test' : datasets[0];
  const label = el('label', 'Dataset ', 'dataset-picker');
  label.appendChild(select);
  fig.controls.prepend(label);
  const draw = () => {
    const key = select.value;
    const bins = models.map((m) => (key === SHIFT_AVG ? pooledShiftBins(cal, m.name, shifts) : (cal.models[m.name]?.datasets[key]?.reliability ?? [])));
    const eces = models.map((m) => `${m.label} ${formatDecimal(key === SHIFT_AVG ? cal.models[m.name]?.shiftAvg?.ece : cal.models[m.name]?.datasets[key]?.ece)}`).join(', ');
    const series: XYSeries[] = models.map((m, i) => ({
      label: m.label,
      colour: m.colour,
      shape: m.shape,
      line: true,
      points: bins[i].flatMap((b) => (b.meanConf === null || b.acc === null ? [] : [{ x: b.meanConf, y: b.acc, name: `bin ${formatDecimal(b.lo, 2)}–${formatDecimal(b.hi, 2)}, ${b.count} examples` }])),
    }));
    const chart = xyChart(`Reliability diagram on ${datasetName(key)}: accuracy against confidence per bin for ${models.map((m) => m.label).join(', ')}. ECE: ${eces}.`, series, {
      x: [0, 1],
      y: [0, 1],
      xLabel: 'confidence',
      yLabel: 'accuracy',
      xFormat: (v, step) => formatDecimal(v, step === undefined ? 3 : decimalsFor(step)),
      yFormat: (v, step) => formatDecimal(v, step === undefined ? 3 : decimalsFor(step)),
      diagonal: true,
    });
    fig.show(chart, reliabilityTable(datasetName(key), models, bins));
  };
  select.addEventListener('change', draw);
  draw();
  return fig.figure;
}

function reliabilityTable(dataset: string, models: Model[], bins: Bin[][]): HTMLElement {
  const rows: string[][] = [];
  const n = Math.max(0, ...bins.map((b) => b.length));
  for (let b = 0; b < n; b++) {
    const first = bins.find((m) => m[b])?.[b];
    if (!first || bins.every((m) => !m[b] || m[b].count === 0)) continue;
    rows.push([`${formatDecimal(first.lo, 2)}–${formatDecimal(first.hi, 2)}`, ...bins.flatMap((m) => [String(m[b]?.count ?? 0), formatDecimal(m[b]?.meanConf, 3), formatDecimal(m[b]?.acc, 3)])]);
  }
  return dataTable(`Reliability on ${dataset}: examples, mean confidence and accuracy per confidence bin (empty bins left out)`, ['Bin', ...models.flatMap((m) => [`${m.label}: n`, 'confidence', 'accuracy'])], rows);
}

/**
 * Reliability tables of several datasets pooled bin by bin, each dataset weighted equally (as
 * the shift average weighs the shifts): a bin's accuracy and confidence are means over its
 * examples, each with weight 1/n of its dataset.
 */
export function poolBins(sets: readonly { n: number; reliability: readonly ReliabilityBin[] }[]): Bin[] {
  if (sets.length === 0) return [];
  return sets[0].reliability.map((first, b) => {
    let mass = 0;
    let correct = 0;
    let conf = 0;
    let count = 0;
    for (const d of sets) {
      const bin = d.reliability[b];
      if (!bin || d.n === 0) continue;
      mass += bin.count / d.n;
      correct += bin.correct / d.n;
      conf += bin.confSum / d.n;
      count += bin.count;
    }
    return { lo: first.lo, hi: first.hi, count, meanConf: mass > 0 ? conf / mass : null, acc: mass > 0 ? correct / mass : null };
  });
}

function pooledShiftBins(cal: CalibrationAnalysis, model: string, shifts: string[]): Bin[] {
  return poolBins(shifts.flatMap((s) => cal.models[model]?.datasets[s] ?? []));
}

/** Datasets every model has a reliability table for: held-out, test, then the shifts in report order. */
function datasetKeys(cal: CalibrationAnalysis, models: Model[]): string[] {
  const first = cal.models[models[0]?.name];
  if (!first) return [];
  const keys = Object.keys(first.datasets).filter((k) => models.every((m) => cal.models[m.name]?.datasets[k]?.reliability));
  const rank = (k: string) => (k === 'heldout' ? 0 : k === 'test' ? 1 : 2);
  return keys.sort((a, b) => rank(a) - rank(b));
}

function datasetName(key: string): string {
  if (key === SHIFT_AVG) return 'shift average (pooled)';
  if (key === 'heldout') return 'held-out';
  return key.replace(/_/g, ' ');
}
