import { randomBytes } from 'node:crypto';

/** What the results page needs from the webview: plain strings, so the page is testable without VS Code. */
export interface ResultsPageSources {
  /** `webview.cspSource`: the only origin styles, fonts and images may come from. */
  cspSource: string;
  /** `webview.asWebviewUri(dist/webview.js)`, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(media/results.css)`, as a string. */
  styleUri: string;
}

/** A fresh CSP nonce: 128 random bits, base64. One per page load, never reused. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The results panel's page. CSP: nothing by default; scripts only with this page's nonce (no
 * inline handlers, no eval); styles, fonts and images only from the webview's own resources.
 * Nothing remote is loaded.
 */
export function resultsPageHtml(src: ResultsPageSources, nonce: string = newNonce()): string {
  return webviewPageHtml(src, [src.styleUri], 'Soup results', 'Loading the soup report…', nonce);
}

/** What the compare panel's page needs: the results page's sources plus its own stylesheet. */
export interface ComparePageSources extends ResultsPageSources {
  /** `webview.asWebviewUri(media/compare.css)`, loaded after the results panel's theme. */
  compareStyleUri: string;
}

/** The compare panel's page: the same CSP and nonce rules as {@link resultsPageHtml}. */
export function comparePageHtml(src: ComparePageSources, nonce: string = newNonce()): string {
  return webviewPageHtml(src, [src.styleUri, src.compareStyleUri], 'Compare soups', 'Loading the two soup reports…', nonce);
}

function webviewPageHtml(src: ResultsPageSources, styleUris: string[], title: string, loading: string, nonce: string): string {
  const csp = [
    "default-src 'none'",
    `img-src ${src.cspSource} data:`,
    // The nonce lets the toolkit's one-off focus-visible probe (a <style> it tags with the
    // csp-nonce meta below) run; no other inline style is allowed.
    `style-src ${src.cspSource} 'nonce-${nonce}'`,
    `font-src ${src.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const styles = styleUris.map((u) => `<link rel="stylesheet" href="${escapeAttr(u)}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta property="csp-nonce" content="${nonce}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${styles}
<title>${title}</title>
</head>
<body>
<p id="status" class="visually-hidden" role="status" aria-live="polite"></p>
<main id="app"><p class="muted">${loading}</p></main>
<script nonce="${nonce}" src="${escapeAttr(src.scriptUri)}"></script>
</body>
</html>`;
}

// Webview URIs are percent-encoded already; this only guards the attribute boundary.
function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
