/** Chart colours, read from VS Code's theme variables at draw time so every theme is readable. */
export interface Palette {
  foreground: string;
  muted: string;
  grid: string;
  /** The panel's background: outlines that separate overlapping markers. */
  background: string;
  font: string;
  ingredient: string;
  soup: string;
  uniform: string;
  ensemble: string;
  best: string;
  kept: string;
  rejected: string;
}

export function readPalette(): Palette {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  // Some themes define chart colours as translucent overlays (Default Light/Dark Modern:
  // charts.orange is minimap.findMatchHighlight at 33 % alpha), which turns bars and markers into
  // a muddy brown or a pale peach. Series colours must be solid.
  const solid = (name: string, fallback: string): string => opaque(v(name, fallback));
  return {
    foreground: v('--vscode-foreground', '#cccccc'),
    muted: v('--vscode-descriptionForeground', '#9d9d9d'),
    grid: v('--vscode-editorWidget-border', v('--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    background: solid('--vscode-editor-background', '#1e1e1e'),
    font: v('--vscode-font-family', 'system-ui, sans-serif'),
    ingredient: solid('--vscode-charts-blue', '#3794ff'),
    soup: solid('--vscode-charts-green', '#89d185'),
    uniform: solid('--vscode-charts-orange', '#d18616'),
    ensemble: solid('--vscode-charts-purple', '#b180d7'),
    best: solid('--vscode-charts-yellow', '#cca700'),
    kept: solid('--vscode-charts-green', '#89d185'),
    rejected: solid('--vscode-charts-red', '#f14c4c'),
  };
}

/** The colour without its alpha channel (`#rrggbbaa`, `#rgba`, `rgba(…)`); other forms unchanged. */
function opaque(color: string): string {
  const c = color.trim();
  let m = /^#([0-9a-f]{6})[0-9a-f]{2}$/i.exec(c);
  if (m) return `#${m[1]}`;
  m = /^#([0-9a-f]{3})[0-9a-f]$/i.exec(c);
  if (m) return `#${m[1]}`;
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)\s*(?:[,/]\s*[\d.]+%?\s*)?\)$/i.exec(c);
  if (m) return `rgb(${m[1]}, ${m[2]}, ${m[3]})`;
  return c;
}

/** `color` at `alpha` (0..1), for fills that must let overlapping markers show through. */
export function withAlpha(color: string, alpha: number): string {
  const c = opaque(color);
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
  if (m) return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${alpha})`;
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  if (m) return `rgba(${parseInt(m[1] + m[1], 16)}, ${parseInt(m[2] + m[2], 16)}, ${parseInt(m[3] + m[3], 16)}, ${alpha})`;
  m = /^rgb\(([\d.]+), ([\d.]+), ([\d.]+)\)$/.exec(c);
  if (m) return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})`;
  return c;
}
