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
  type PointStyle,
} from 'chart.js';
import type { SoupReport } from '../src/engine/report';
import type { Palette } from './theme';

// Only what the three charts use, so the bundle stays small.
Chart.register(ScatterController, LineController, BarController, PointElement, LineElement, BarElement, LinearScale, CategoryScale, Legend, Tooltip);

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

/** The charts of one report; `destroy` before redrawing (theme change). */
export interface DrawnCharts {
  count: number;
  destroy(): void;
}

/** Draws the three charts into their canvases. Charts without data show a note instead. */
export function drawCharts(report: SoupReport, methodLabel: string, canvases: { scatter: HTMLCanvasElement; trajectory: HTMLCanvasElement; shifts: HTMLCanvasElement }, palette: Palette): DrawnCharts {
  Chart.defaults.color = palette.foreground;
  Chart.defaults.borderColor = palette.grid;
  Chart.defaults.font.family = palette.font;
  const charts: Chart[] = [];
  const add = (canvas: HTMLCanvasElement, config: ChartConfiguration | undefined, empty: string): void => {
    if (config) charts.push(new Chart(canvas, config));
    else showNote(canvas, empty);
  };
  add(canvases.scatter, scatterConfig(report, methodLabel, palette), 'No shift datasets are configured, so there is no shift average to plot.');
  add(canvases.trajectory, trajectoryConfig(report, palette), `${methodLabel} has no greedy trajectory: it averages every ingredient in one step.`);
  add(canvases.shifts, shiftBarsConfig(report, methodLabel, palette), 'No shift datasets are configured.');
  return { count: charts.length, destroy: () => charts.forEach((c) => c.destroy()) };
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
function scatterConfig(report: SoupReport, methodLabel: string, p: Palette): ChartConfiguration<'scatter', LabelledPoint[]> | undefined {
  if (report.shiftNames.length === 0) return undefined;
  const useTest = report.soup.metrics.test !== undefined;
  const x = (m: { test?: number; heldout?: number }): number | undefined => (useTest ? m.test : m.heldout);
  const point = (label: string, m: { test?: number; heldout?: number; shiftAvg?: number } | undefined): LabelledPoint[] => {
    const xv = m ? x(m) : undefined;
    return m && xv !== undefined && m.shiftAvg !== undefined ? [{ x: xv, y: m.shiftAvg, label }] : [];
  };
  const marker = (label: string, data: LabelledPoint[], color: string, style: PointStyle, radius: number): ChartDataset<'scatter', LabelledPoint[]> => ({
    label,
    data,
    pointStyle: style,
    pointRadius: radius,
    pointHoverRadius: radius + 2,
    borderWidth: 2,
    borderColor: color,
    backgroundColor: color,
  });
  const b = report.baselines;
  const datasets = [
    marker('Ingredients', report.ingredients.flatMap((i) => point(i.id, i.metrics)), p.ingredient, 'circle', 5),
    marker(methodLabel, point(methodLabel, report.soup.metrics), p.soup, 'star', 13),
    ...(report.method !== 'uniform' ? [marker('Uniform soup', point('Uniform soup', b.uniform.metrics), p.uniform, 'triangle', 9)] : []),
    marker(`Logit ensemble (${b.ensemble.members.length}× cost)`, point('Logit ensemble', b.ensemble.metrics), p.ensemble, 'rectRot', 9),
  ];
  return {
    type: 'scatter',
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { title: { display: true, text: `${useTest ? 'Test' : 'Held-out'} accuracy (in-distribution)` }, ticks: { callback: (v) => pct(Number(v)) }, grid: { color: p.grid } },
        y: { title: { display: true, text: 'Average accuracy over distribution shifts' }, ticks: { callback: (v) => pct(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: { labels: { usePointStyle: true, color: p.foreground } },
        tooltip: { callbacks: { label: (ctx) => `${(ctx.raw as LabelledPoint).label}: ${pct(ctx.parsed.x ?? 0)} / ${pct(ctx.parsed.y ?? 0)}` } },
      },
    },
  };
}

/** Greedy only: the soup's held-out accuracy after each step, kept and rejected candidates marked. */
function trajectoryConfig(report: SoupReport, p: Palette): ChartConfiguration<'line', (number | null)[]> | undefined {
  if (report.steps.length === 0) return undefined;
  const labels = report.steps.map((_s, i) => `${i + 1}`);
  let best = report.steps[0].heldout;
  const soupLine = report.steps.map((s) => {
    if (s.added) best = s.heldout;
    return best;
  });
  const kept = report.steps.map((s) => (s.added ? s.heldout : null));
  const rejected = report.steps.map((s) => (s.added ? null : s.heldout));
  return {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: 'Soup held-out accuracy', data: soupLine, borderColor: p.soup, backgroundColor: p.soup, stepped: 'before', pointRadius: 0, borderWidth: 2 },
        { label: 'Kept candidate', data: kept, showLine: false, pointStyle: 'circle', pointRadius: 6, borderColor: p.kept, backgroundColor: p.kept },
        { label: 'Rejected candidate', data: rejected, showLine: false, pointStyle: 'crossRot', pointRadius: 8, borderWidth: 3, borderColor: p.rejected, backgroundColor: p.rejected },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { title: { display: true, text: 'Greedy step (candidates in held-out order)' }, grid: { color: p.grid } },
        y: { title: { display: true, text: 'Held-out accuracy' }, ticks: { callback: (v) => pct(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: { labels: { usePointStyle: true, color: p.foreground } },
        tooltip: {
          callbacks: {
            title: (items) => {
              const step = report.steps[items[0]?.dataIndex ?? 0];
              return step ? `Step ${(items[0]?.dataIndex ?? 0) + 1}: ${step.candidate}` : '';
            },
            label: (ctx) => `${ctx.dataset.label}: ${pct(Number(ctx.raw))}`,
          },
        },
      },
    },
  };
}

/** Accuracy on each shift for the best individual, the uniform soup, the soup and the ensemble. */
function shiftBarsConfig(report: SoupReport, methodLabel: string, p: Palette): ChartConfiguration<'bar', (number | null)[]> | undefined {
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
    ...(report.method !== 'uniform' ? [series(methodLabel, report.soup.metrics.shifts, p.soup)] : []),
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
        y: { beginAtZero: true, suggestedMax: 1, title: { display: true, text: 'Accuracy' }, ticks: { callback: (v) => pct(Number(v)) }, grid: { color: p.grid } },
      },
      plugins: {
        legend: { labels: { color: p.foreground } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${ctx.raw === null ? '—' : pct(Number(ctx.raw))}` } },
      },
    },
  };
}
