// SVG primitives of the analyses charts. Colours come from CSS classes over VS Code's theme
// variables (media/results.css), so a theme change recolours the charts without a redraw.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An SVG image for screen readers: role img, its accessible name and a <title> (the browser's
 * tooltip) saying what it shows; its table view holds the numbers.
 */
export function svgRoot(width: number, height: number, label: string): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('analysis-svg');
  svg.appendChild(svgTitle(label));
  return svg;
}

export function svgEl(tag: string, attrs: Record<string, string | number>, ...children: SVGElement[]): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** A <title>: the tooltip of its parent shape. */
export function svgTitle(text: string): SVGElement {
  const e = document.createElementNS(SVG_NS, 'title');
  e.textContent = text;
  return e;
}

/** A text label at (x, y). */
export function svgText(text: string, x: number, y: number, attrs: Record<string, string | number> = {}): SVGElement {
  const e = svgEl('text', { x, y, ...attrs });
  e.textContent = text;
  return e;
}

/** Marker shapes, so series differ by more than colour (colour-blind readers, high contrast). */
export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle';

/** A marker of `shape` centred on (x, y), radius about `r`. */
export function marker(shape: MarkerShape, x: number, y: number, r: number, className: string): SVGElement {
  switch (shape) {
    case 'circle':
      return svgEl('circle', { cx: x, cy: y, r, class: className });
    case 'square':
      return svgEl('rect', { x: x - r * 0.9, y: y - r * 0.9, width: r * 1.8, height: r * 1.8, class: className });
    case 'diamond':
      return svgEl('polygon', { points: `${x},${y - r * 1.25} ${x + r * 1.25},${y} ${x},${y + r * 1.25} ${x - r * 1.25},${y}`, class: className });
    case 'triangle':
      return svgEl('polygon', { points: `${x},${y - r * 1.2} ${x + r * 1.1},${y + r * 0.8} ${x - r * 1.1},${y + r * 0.8}`, class: className });
  }
}

/** Text cut to `max` characters with an ellipsis; the whole text belongs in a <title>. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
