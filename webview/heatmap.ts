import { formatDecimal } from '../src/shared/format';
import type { AnglesAnalysis } from '../src/shared/webviewProtocol';
import { dataTable } from './analysisDom';
import { clip, svgEl, svgRoot, svgText, svgTitle } from './svg';

// Cell colour: the theme's blue mixed into the editor background, from MIX_LO % (the smallest
// angle) to MIX_HI % (the largest). Capped at 70 %, so the foreground-coloured numbers on the
// cells stay readable in dark, light and high-contrast themes alike.
const MIX_LO = 8;
const MIX_HI = 70;
const LEGEND_STEPS = 7;

/** The cell fill for a share `t` in [0, 1] of the colour scale (CSS, follows the theme). */
function fill(t: number): string {
  const p = MIX_LO + (MIX_HI - MIX_LO) * Math.min(1, Math.max(0, t));
  return `color-mix(in srgb, var(--vscode-charts-blue) ${p.toFixed(1)}%, var(--vscode-editor-background))`;
}

/**
 * The pair-angle matrix as a heatmap: ingredients on both axes (short labels, whole ids in the
 * tooltips), the angle in degrees in each cell, and a colour scale from the smallest to the
 * largest angle.
 */
export function angleHeatmap(g: AnglesAnalysis, labels: Map<string, string>): SVGSVGElement {
  const k = g.ids.length;
  const angles = offDiagonal(g);
  const lo = angles.length > 0 ? Math.floor(Math.min(...angles)) : 0;
  const hi = angles.length > 0 ? Math.ceil(Math.max(...angles)) : 90;
  const cell = Math.max(16, Math.min(40, Math.floor(440 / Math.max(1, k))));
  const showNumbers = cell >= 28;
  const name = (id: string) => labels.get(id) ?? id;
  const longest = Math.max(...g.ids.map((id) => Math.min(16, name(id).length)));
  const left = 12 + longest * 6;
  // Column labels are turned 45°: they need about 0.7 of their length above the matrix.
  const top = 14 + Math.ceil(longest * 6 * 0.72);
  const legendX = left + k * cell + 24;
  const width = legendX + 70;
  const height = top + Math.max(k * cell, LEGEND_STEPS * 18 + 20) + 12;
  const svg = svgRoot(width, height, `Heatmap of the angles between the fine-tuning directions of ${k} ingredients, from ${lo}° (lightest) to ${hi}° (darkest). The table view lists every angle.`);
  const share = (deg: number) => (hi > lo ? (deg - lo) / (hi - lo) : 0.5);
  g.ids.forEach((id, i) => {
    const rowLabel = svgText(clip(name(id), 16), left - 6, top + i * cell + cell / 2 + 3.5, { 'text-anchor': 'end', class: 'tick' });
    rowLabel.appendChild(svgTitle(id));
    const cx = left + i * cell + cell / 2;
    const colLabel = svgText(clip(name(id), 16), cx, top - 6, { class: 'tick', transform: `rotate(-45 ${cx} ${top - 6})` });
    colLabel.appendChild(svgTitle(id));
    svg.append(rowLabel, colLabel);
    g.ids.forEach((other, j) => {
      const x = left + j * cell;
      const y = top + i * cell;
      if (i === j) {
        svg.appendChild(svgEl('rect', { x, y, width: cell, height: cell, class: 'heat-diagonal' }));
        return;
      }
      const deg = g.angleMatrix[i * k + j];
      const rect = svgEl('rect', { x, y, width: cell, height: cell, class: 'heat-cell' });
      rect.style.setProperty('fill', fill(share(deg)));
      rect.appendChild(svgTitle(`${id} × ${other}: ${formatDecimal(deg, 1)}°`));
      svg.appendChild(rect);
      if (showNumbers) svg.appendChild(svgText(formatDecimal(deg, 0), x + cell / 2, y + cell / 2 + 3.5, { 'text-anchor': 'middle', class: 'heat-value', 'aria-hidden': 'true' }));
    });
  });
  // The scale: darkest (largest angle) at the top, as in a map legend.
  svg.appendChild(svgText('angle', legendX, top - 6, { class: 'tick' }));
  for (let s = 0; s < LEGEND_STEPS; s++) {
    const t = 1 - s / (LEGEND_STEPS - 1);
    const r = svgEl('rect', { x: legendX, y: top + s * 18, width: 16, height: 18, class: 'heat-cell' });
    r.style.setProperty('fill', fill(t));
    svg.append(r, svgText(`${formatDecimal(lo + t * (hi - lo), 0)}°`, legendX + 22, top + s * 18 + 13, { class: 'tick' }));
  }
  return svg;
}

/** The heatmap's table view: the same matrix in degrees, one decimal. */
export function angleTable(g: AnglesAnalysis, labels: Map<string, string>): HTMLElement {
  const k = g.ids.length;
  const head = (id: string) => ({ text: labels.get(id) ?? id, title: id });
  return dataTable(
    'Angles between fine-tuning directions, in degrees',
    ['', ...g.ids.map(head)],
    g.ids.map((id, i) => [head(id), ...g.ids.map((_, j) => (i === j ? '—' : formatDecimal(g.angleMatrix[i * k + j], 1)))]),
  );
}

function offDiagonal(g: AnglesAnalysis): number[] {
  const k = g.ids.length;
  const out: number[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j && Number.isFinite(g.angleMatrix[i * k + j])) out.push(g.angleMatrix[i * k + j]);
  return out;
}
