import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
  type LegendItem,
  type PointStyle,
} from 'chart.js';
import type { SoupMethodView, SoupReport } from '../src/shared/webviewProtocol';
import { formatPercent } from '../src/shared/format';
import { withAlpha, type Palette } from './theme';

// Only what the three charts use, so the bundle stays small.
Chart.register(ScatterController, LineController, BarController, PointElement, LineElement, BarElement, LinearScale, CategoryScale, Legend, Tooltip);

/** The charts of one report; `destroy` before redrawing (theme change). */
export interface DrawnCharts {
  count: number;
  destroy(): void;
}

/** Draws the three charts into their canvases. Charts without data show a note instead. */
export function drawCharts(report: SoupReport, method: SoupMethodView, canvases: { scatter: HTMLCanvasElement; trajectory: HTMLCanvasElement; shifts: HTMLCanvasElement }, palette: Palette): DrawnCharts {
  Chart.defaults.color = palette.foreground;
  Chart.defaults.borderColor = palette.grid;
  Chart.defaults.font.family = palette.font;
  const charts: Chart[] = [];
  let destroyed = false;
  const add = (canvas: HTMLCanvasElement, config: ChartConfiguration | undefined, empty: string): void => {
    if (config) charts.push(new Chart(canvas, config));
    else showNote(canvas, empty);
  };
  const stars = { plot: starMarker(palette.soup, palette.background, 26), legend: starMarker(palette.soup, palette.background, 16) };
  const trajectoryNote = method.produces.steps ? `${method.label} recorded no steps.` : `${method.label} has no greedy trajectory: it averages every ingredient in one step.`;
  add(canvases.scatter, scatterConfig(report, method, palette, stars), 'No shift datasets are configured, so there is no shift average to plot.');
  add(canvases.trajectory, trajectoryConfig(report, palette), trajectoryNote);
  add(canvases.shifts, shiftBarsConfig(report, method, palette), 'No shift datasets are configured.');
  // The star is an image: draw again once it has decoded (a data: URL, so almost at once).
  void Promise.all([stars.plot.decode(), stars.legend.decode()])
    .then(() => {
      if (!destroyed) charts.forEach((c) => c.draw());
    })
    .catch(() => {});
  return {
    count: charts.length,
    destroy: () => {
      destroyed = true;
      charts.forEach((c) => c.destroy());
    },
  };
}

/**
 * A filled five-pointed star with an outline, as an image marker: chart.js's own 'star' is a thin
 * asterisk that disappears among the dots. Rendered at twice the device resolution and shown at
 * `size` CSS pixels (chart.js draws images at their `width`/`height`), so it stays crisp.
 */
function starMarker(fill: string, outline: string, size: number): HTMLImageElement {
  const scale = Math.max(2, Math.ceil(window.devicePixelRatio || 1) * 2);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size * scale;
  const ctx = canvas.getContext('2d');
  const img = new Image(size, size);
  if (!ctx) return img;
  ctx.scale(scale, scale);
  const c = size / 2;
  const outer = size / 2 - 1.5;
  const inner = outer * 0.45;
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    ctx.lineTo(c + r * Math.cos(a), c + r * Math.sin(a) + size * 0.04);
  }
  ctx.closePath();
  ctx.lineJoin = 'round';
  ctx.lineWidth = 2.5;
  ctx.strokeStyle = outline;
  ctx.stroke();
  ctx.fillStyle = fill;
  ctx.fill();
  img.src = canvas.toDataURL('image/png');
  return img;
}

function showNote(canvas: HTMLCanvasElement, text: string): void {
  const note = document.createElement('p');
  note.className = 'muted chart-note';
  note.textContent = text;
  canvas.replaceWith(note);
}

interface LabelledPoint {
  x: number;
  y: number;
  label: string;
}

/**
 * The paper's signature figure: in-distribution accuracy (test, else held-out) against the
 * shift average; ingredients as dots, soups and the ensemble as distinct markers.
 */
function scatterConfig(report: SoupReport, method: SoupMethodView, p: Palette, stars: { plot: HTMLImageElement; legend: HTMLImageElement }): ChartConfiguration<'scatter', LabelledPoint[]> | undefined {
  if (report.shiftNames.length === 0) return undefined;
  const useTest = report.soup.metrics.test !== undefined;
  const x = (m: { test?: number; heldout?: number }): number | undefined => (useTest ? m.test : m.heldout);
  const point = (label: string, m: { test?: number; heldout?: number; shiftAvg?: number } | undefined): LabelledPoint[] => {
    const xv = m ? x(m) : undefined;
    return m && xv !== undefined && m.shiftAvg !== undefined ? [{ x: xv, y: m.shiftAvg, label }] : [];
  };
  const marker = (label: string, data: LabelledPoint[], color: string, style: PointStyle, radius: number, fill = color): ChartDataset<'scatter', LabelledPoint[]> => ({
    label,
    data,
    pointStyle: style,
    pointRadius: radius,
    pointHoverRadius: radius + 2,
    borderWidth: 2,
    borderColor: color,
    backgroundColor: fill,
  });
  const b = report.baselines;
  const bestId = b.bestIndividual.members[0];
  // chart.js draws the first dataset on top: the soup first, the ingredient dots last. The
  // soup's and baselines' markers get an outline in the background colour so that they stand
  // out where they overlap (the soup and the ensemble often land close together).
  const outlined = (d: ChartDataset<'scatter', LabelledPoint[]>): ChartDataset<'scatter', LabelledPoint[]> => ({ ...d, borderColor: p.background, borderWidth: 1.5 });
  const soupIndex = 0;
  const datasets = [
    { ...marker(method.label, point(method.label, report.soup.metrics), p.soup, stars.plot, 13), pointHoverRadius: 13 },
    outlined(marker(`Logit ensemble (${b.ensemble.members.length}× cost)`, point('Logit ensemble', b.ensemble.metrics), p.ensemble, 'rectRot', 9)),
    ...(!method.produces.uniformSoup ? [outlined(marker('Uniform soup', point('Uniform soup', b.uniform.metrics), p.uniform, 'triangle', 9))] : []),
    // A ring around the best ingredient's dot, in the colour it has in the shift bars.
    ...(bestId ? [{ ...marker(`Best individual (${bestId})`, point(bestId, b.bestIndividual.metrics), p.best, 'circle', 9, 'transparent'), borderWidth: 2.5 }] : []),
    // Translucent dots, so that ingredients on top of each other stay countable.
    marker('Ingredients', report.ingredients.flatMap((i) => point(i.id, i.metrics)), p.ingredient, 'circle', 5, withAlpha(p.ingredient, 0.6)),
  ];
  return {
    type: 'scatter',
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { title: { display: true, text: `${useTest ? 'Test' : 'Held-out'} accuracy (in-distribution)` }, ticks: { callback: (v) => formatPercent(Number(v)) }, grid: { color: p.grid } },
        y: { title: { display: true, text: 'Average accuracy over distribution shifts' }, ticks: { callback: (v) => formatPercent(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: {
          labels: {
            usePointStyle: true,
            color: p.foreground,
            boxWidth: 10,
            boxHeight: 10,
            // Legend markers all in their series' solid colour and the same size: the plot's
            // outlines (in the background colour) would make some look smaller. The star is a
            // smaller image than the plot's; the ring stays a ring.
            generateLabels: (chart): LegendItem[] =>
              Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
                const d = datasets[item.datasetIndex ?? -1];
                if (item.datasetIndex === soupIndex) return { ...item, pointStyle: stars.legend };
                if (!d || d.backgroundColor === 'transparent') return item;
                const color = d === datasets.at(-1) ? p.ingredient : (d.backgroundColor as string);
                return { ...item, fillStyle: color, strokeStyle: color, lineWidth: 0 };
              }),
          },
        },
        tooltip: { callbacks: { label: (ctx) => `${(ctx.raw as LabelledPoint).label}: ${formatPercent(ctx.parsed.x ?? 0)} / ${formatPercent(ctx.parsed.y ?? 0)}` } },
      },
    },
  };
}

/**
 * Greedy only: the soup's held-out accuracy after each step, kept and rejected candidates marked.
 * The axis is zoomed on the soup's curve (the gains are tenths of a point): a candidate that
 * breaks the soup far below it is drawn on the axis floor as a downward triangle, and its
 * tooltip gives the real value.
 */
function trajectoryConfig(report: SoupReport, p: Palette): ChartConfiguration<'line', (number | null)[]> | undefined {
  if (report.steps.length === 0) return undefined;
  const steps = report.steps;
  const labels = steps.map((_s, i) => `${i + 1}`);
  let best = steps[0].heldout;
  const soupLine = steps.map((s) => {
    if (s.added) best = s.heldout;
    return best;
  });
  const low = Math.min(...soupLine);
  const high = Math.max(...steps.map((s) => s.heldout));
  // Five points below the start, rounded down to a whole point, or lower if every value fits.
  const floor = Math.max(Math.floor((low - 0.05) * 100) / 100, Math.floor((Math.min(...steps.map((s) => s.heldout)) - 0.005) * 100) / 100);
  const ceiling = Math.min(1, Math.ceil((high + 0.005) * 100) / 100);
  const offScale = steps.map((s) => !s.added && s.heldout < floor);
  const kept = steps.map((s) => (s.added ? s.heldout : null));
  const rejected = steps.map((s, i) => (s.added ? null : offScale[i] ? floor : s.heldout));
  const anyOffScale = offScale.some(Boolean);
  return {
    type: 'line',
    data: {
      labels,
      datasets: [
        // Drawn under the markers (a higher `order` is drawn first), listed first in the legend.
        { label: 'Soup held-out accuracy', data: soupLine, order: 1, borderColor: p.soup, backgroundColor: p.soup, stepped: 'before', pointRadius: 0, pointHoverRadius: 0, pointStyle: 'line', borderWidth: 2 },
        { label: 'Kept candidate', data: kept, showLine: false, pointStyle: 'circle', pointRadius: 6, pointHoverRadius: 8, borderColor: p.background, borderWidth: 1.5, backgroundColor: p.kept },
        {
          label: anyOffScale ? 'Rejected candidate (▼ below the axis)' : 'Rejected candidate',
          data: rejected,
          showLine: false,
          pointStyle: steps.map((_s, i) => (offScale[i] ? 'triangle' : 'crossRot')),
          pointRotation: steps.map((_s, i) => (offScale[i] ? 180 : 0)),
          pointRadius: 7,
          pointHoverRadius: 9,
          borderWidth: steps.map((_s, i) => (offScale[i] ? 1 : 3)),
          borderColor: p.rejected,
          backgroundColor: p.rejected,
          clip: false,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      scales: {
        x: { title: { display: true, text: 'Greedy step (candidates in held-out order)' }, grid: { color: p.grid } },
        y: { min: floor, max: ceiling, title: { display: true, text: 'Held-out accuracy' }, ticks: { callback: (v) => formatPercent(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: { labels: { usePointStyle: true, color: p.foreground, boxWidth: 10, boxHeight: 10, sort: (a, b) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0) } },
        tooltip: {
          filter: (item) => item.raw !== null && item.datasetIndex !== 0,
          callbacks: {
            title: (items) => {
              const i = items[0]?.dataIndex ?? 0;
              return steps[i] ? `Step ${i + 1}: ${steps[i].candidate}` : '';
            },
            label: (ctx) => `${steps[ctx.dataIndex]?.added ? 'kept' : 'rejected'}: soup would reach ${formatPercent(steps[ctx.dataIndex]?.heldout ?? Number(ctx.raw))}`,
            footer: (items) => `soup so far: ${formatPercent(soupLine[items[0]?.dataIndex ?? 0])}`,
          },
        },
      },
    },
  };
}

/** Accuracy on each shift for the best individual, the uniform soup, the soup and the ensemble. */
function shiftBarsConfig(report: SoupReport, method: SoupMethodView, p: Palette): ChartConfiguration<'bar', (number | null)[]> | undefined {
  if (report.shiftNames.length === 0) return undefined;
  const b = report.baselines;
  const series = (label: string, shifts: Record<string, number>, color: string): ChartDataset<'bar', (number | null)[]> => ({
    label,
    data: report.shiftNames.map((s) => shifts[s] ?? null),
    backgroundColor: color,
    borderColor: color,
    borderWidth: 1,
  });
  const datasets = [
    series('Best individual', b.bestIndividual.metrics.shifts, p.best),
    series('Uniform soup', b.uniform.metrics.shifts, p.uniform),
    ...(!method.produces.uniformSoup ? [series(method.label, report.soup.metrics.shifts, p.soup)] : []),
    series('Logit ensemble', b.ensemble.metrics.shifts, p.ensemble),
  ];
  return {
    type: 'bar',
    data: { labels: report.shiftNames.map((s) => s.replace(/_/g, ' ')), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { grid: { color: p.grid } },
        y: { beginAtZero: true, suggestedMax: 1, title: { display: true, text: 'Accuracy' }, ticks: { callback: (v) => formatPercent(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: { labels: { color: p.foreground } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${ctx.raw === null ? '—' : formatPercent(Number(ctx.raw))}` } },
      },
    },
  };
}
