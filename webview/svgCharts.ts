import { clip, marker, svgEl, svgRoot, svgText, svgTitle, type MarkerShape } from './svg';

/** One point, named in its tooltip ("α = 0.3", "ft-00 + ft-07"). */
export interface XYPoint {
  x: number;
  y: number;
  name: string;
}

/** A series of an x-y chart: its colour class (media/results.css `c-*`) and marker shape. */
export interface XYSeries {
  label: string;
  points: XYPoint[];
  colour: string;
  shape: MarkerShape;
  /** Join the points with a line (a curve), or markers only (a scatter). */
  line: boolean;
}

export interface XYAxes {
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
  /** Formats a value: a tick (with the ticks' `step`, to show as many decimals as it needs) or a point (no step). */
  xFormat: (v: number, step?: number) => string;
  yFormat: (v: number, step?: number) => string;
  /** The y = x diagonal (perfect calibration). */
  diagonal?: boolean;
  /** A rule at y = 0 (no gain). */
  zeroY?: boolean;
}

/** A text placed at a data point (the pretrained end of the WiSE-FT curves). */
export interface XYNote {
  x: number;
  y: number;
  text: string;
}

const LEFT = 62;
const RIGHT = 18;
const TOP = 14;
const PLOT_H = 230;
const PLOT_W = 420;
const AXIS_H = 42;
const LEGEND_ROW = 17;
let clips = 0;

/**
 * An x-y chart (curves or a scatter) with ticks, grid, axis titles and a legend below the plot,
 * where it never covers a point.
 */
export function xyChart(label: string, series: XYSeries[], axes: XYAxes, notes: XYNote[] = []): SVGSVGElement {
  const width = LEFT + PLOT_W + RIGHT;
  const height = TOP + PLOT_H + AXIS_H + series.length * LEGEND_ROW + 6;
  const svg = svgRoot(width, height, label);
  const sx = (v: number) => LEFT + ((v - axes.x[0]) / (axes.x[1] - axes.x[0] || 1)) * PLOT_W;
  const sy = (v: number) => TOP + PLOT_H - ((v - axes.y[0]) / (axes.y[1] - axes.y[0] || 1)) * PLOT_H;
  const bottom = TOP + PLOT_H;
  const xTicks = niceTicks(axes.x[0], axes.x[1]);
  for (const t of xTicks.values) {
    svg.append(svgEl('line', { x1: sx(t), y1: TOP, x2: sx(t), y2: bottom, class: 'grid' }), svgText(axes.xFormat(t, xTicks.step), sx(t), bottom + 14, { 'text-anchor': 'middle', class: 'tick' }));
  }
  const yTicks = niceTicks(axes.y[0], axes.y[1]);
  for (const t of yTicks.values) {
    svg.append(svgEl('line', { x1: LEFT, y1: sy(t), x2: LEFT + PLOT_W, y2: sy(t), class: 'grid' }), svgText(axes.yFormat(t, yTicks.step), LEFT - 6, sy(t) + 3.5, { 'text-anchor': 'end', class: 'tick' }));
  }
  svg.appendChild(svgEl('rect', { x: LEFT, y: TOP, width: PLOT_W, height: PLOT_H, class: 'frame' }));
  svg.appendChild(svgText(axes.xLabel, LEFT + PLOT_W / 2, bottom + 32, { 'text-anchor': 'middle', class: 'axis-title' }));
  svg.appendChild(svgText(axes.yLabel, -(TOP + PLOT_H / 2), 14, { 'text-anchor': 'middle', class: 'axis-title', transform: 'rotate(-90)' }));
  const clipId = `analysis-clip-${++clips}`;
  svg.appendChild(svgEl('clipPath', { id: clipId }, svgEl('rect', { x: LEFT, y: TOP, width: PLOT_W, height: PLOT_H })));
  const plot = svgEl('g', { 'clip-path': `url(#${clipId})` });
  svg.appendChild(plot);
  if (axes.diagonal) {
    const lo = Math.max(axes.x[0], axes.y[0]);
    const hi = Math.min(axes.x[1], axes.y[1]);
    plot.appendChild(svgEl('line', { x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi), class: 'diagonal' }));
  }
  if (axes.zeroY && axes.y[0] < 0 && axes.y[1] > 0) plot.appendChild(svgEl('line', { x1: LEFT, y1: sy(0), x2: LEFT + PLOT_W, y2: sy(0), class: 'zero' }));
  for (const s of series) {
    if (s.line && s.points.length > 1) plot.appendChild(svgEl('polyline', { points: s.points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' '), class: `line ${s.colour}` }));
  }
  for (const s of series) {
    for (const p of s.points) {
      const m = marker(s.shape, sx(p.x), sy(p.y), 4, `mark ${s.colour}`);
      m.appendChild(svgTitle(`${s.label}, ${p.name}: ${axes.xLabel} ${axes.xFormat(p.x)}, ${axes.yLabel} ${axes.yFormat(p.y)}`));
      // Not clipped: a point on the frame (a bin at accuracy 0) shows its whole marker.
      svg.appendChild(m);
    }
  }
  for (const n of notes) {
    // Level with the point, right of it (left near the right edge): the curves leave it upwards.
    const right = sx(n.x) < LEFT + PLOT_W * 0.7;
    svg.appendChild(svgText(n.text, sx(n.x) + (right ? 9 : -9), sy(n.y) + 4, { 'text-anchor': right ? 'start' : 'end', class: 'note' }));
  }
  series.forEach((s, i) => {
    const y = bottom + AXIS_H + 4 + i * LEGEND_ROW;
    svg.append(marker(s.shape, LEFT + 6, y, 4.5, `mark ${s.colour}`), svgText(clip(s.label, 70), LEFT + 18, y + 4, { class: 'legend' }));
  });
  return svg;
}

/** A horizontal bar per item (label on the left, value at the bar's end), bars from 0. */
export function barChart(label: string, bars: { label: string; title: string; value: number; text: string }[], colour: string): SVGSVGElement {
  const labelW = 120;
  const barW = 320;
  const row = 20;
  const width = labelW + barW + 70;
  const height = TOP + bars.length * row + 8;
  const svg = svgRoot(width, height, label);
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  bars.forEach((b, i) => {
    const y = TOP + i * row;
    const w = (Math.max(0, b.value) / max) * barW;
    const rect = svgEl('rect', { x: labelW, y: y + 3, width: Math.max(w, 1), height: row - 6, class: `bar ${colour}` });
    rect.appendChild(svgTitle(`${b.title}: ${b.text}`));
    const name = svgText(clip(b.label, 20), labelW - 8, y + row / 2 + 4, { 'text-anchor': 'end', class: 'tick' });
    name.appendChild(svgTitle(b.title));
    svg.append(name, rect, svgText(b.text, labelW + w + 6, y + row / 2 + 4, { class: 'tick' }));
  });
  svg.appendChild(svgEl('line', { x1: labelW, y1: TOP, x2: labelW, y2: TOP + bars.length * row, class: 'axis' }));
  return svg;
}

/** About five round tick values inside [lo, hi], `step` apart (1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): { values: number[]; step: number } {
  if (!(hi > lo)) return { values: [lo], step: 1 };
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const values: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) values.push(Number(v.toFixed(12)));
  return { values, step };
}

/** The decimals that show every multiple of `step` exactly (0 for 5, 1 for 0.2, 2 for 0.05). */
export function decimalsFor(step: number): number {
  for (let d = 0; d < 8; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 8;
}

/** [min, max] of the values with a 6 % margin each side (a point never sits on the frame). */
export function paddedRange(values: number[], floor?: number, ceiling?: number): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.05 || 0.01;
  return [floor === undefined ? lo - pad : Math.max(floor, lo - pad), ceiling === undefined ? hi + pad : Math.min(ceiling, hi + pad)];
}
