/** Chart colours, read from VS Code's theme variables at draw time so every theme is readable. */
export interface Palette {
  foreground: string;
  muted: string;
  grid: string;
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
  return {
    foreground: v('--vscode-foreground', '#cccccc'),
    muted: v('--vscode-descriptionForeground', '#9d9d9d'),
    grid: v('--vscode-editorWidget-border', v('--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    font: v('--vscode-font-family', 'system-ui, sans-serif'),
    ingredient: v('--vscode-charts-blue', '#3794ff'),
    soup: v('--vscode-charts-green', '#89d185'),
    uniform: v('--vscode-charts-orange', '#d18616'),
    ensemble: v('--vscode-charts-purple', '#b180d7'),
    best: v('--vscode-charts-yellow', '#cca700'),
    kept: v('--vscode-charts-green', '#89d185'),
    rejected: v('--vscode-charts-red', '#f14c4c'),
  };
}
