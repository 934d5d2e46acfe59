import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { comparePageHtml, newNonce, resultsPageHtml, type ResultsPageSources } from '../../src/extension/webviewHtml';

// What VS Code hands the panel (code-server and desktop use this CDN-style resource origin).
const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const SOURCES: ResultsPageSources = {
  cspSource: CSP_SOURCE,
  scriptUri: `${CSP_SOURCE}/ext/dist/webview.js`,
  styleUri: `${CSP_SOURCE}/ext/media/results.css`,
};

/** The CSP of the page, as directive name -> source list. */
function csp(html: string): Map<string, string[]> {
  const metas = [...html.matchAll(/<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/gi)];
  assert.equal(metas.length, 1, 'exactly one CSP meta tag');
  const directives = new Map<string, string[]>();
  for (const part of metas[0][1].split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (!name) continue;
    assert.ok(!directives.has(name), `directive ${name} given twice`);
    directives.set(name, sources);
  }
  return directives;
}

function nonceOf(html: string): string {
  const m = /script-src 'nonce-([^']+)'/.exec(html);
  assert.ok(m, 'no script nonce');
  return m[1];
}

describe('results page HTML', () => {
  const html = resultsPageHtml(SOURCES);

  it("has a CSP whose default is 'none'", () => {
    assert.deepEqual(csp(html).get('default-src'), ["'none'"]);
  });

  it('allows scripts only by nonce: no unsafe-inline, unsafe-eval, host or scheme sources', () => {
    const scripts = csp(html).get('script-src');
    assert.ok(scripts, 'no script-src');
    assert.equal(scripts.length, 1, `script-src: ${scripts.join(' ')}`);
    assert.match(scripts[0], /^'nonce-[A-Za-z0-9+/]{20,}={0,2}'$/);
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|strict-dynamic/);
  });

  it('limits styles, fonts and images to the webview resources (plus the nonce and data: images)', () => {
    const d = csp(html);
    const nonce = nonceOf(html);
    assert.deepEqual(d.get('style-src'), [CSP_SOURCE, `'nonce-${nonce}'`]);
    assert.deepEqual(d.get('font-src'), [CSP_SOURCE]);
    assert.deepEqual(d.get('img-src'), [CSP_SOURCE, 'data:']);
    // Nothing else is opened up: connect-src, frame-src, worker-src... fall back to 'none'.
    assert.deepEqual([...d.keys()].sort(), ['default-src', 'font-src', 'img-src', 'script-src', 'style-src']);
  });

  it('puts the nonce on every <script> and has no inline script or event handler', () => {
    const nonce = nonceOf(html);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length >= 1);
    assert.equal(scripts.length, (html.match(/<script\b/gi) ?? []).length, 'every <script> is closed');
    for (const [, attrs, body] of scripts) {
      assert.match(attrs, new RegExp(`\\bnonce="${nonce.replace(/[+/]/g, '\\$&')}"`));
      assert.match(attrs, /\bsrc="/, 'scripts are files, not inline code');
      assert.equal(body.trim(), '');
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'inline event handler attribute');
    assert.doesNotMatch(html, /javascript:/i);
  });

  it('loads nothing remote: every http(s) URL is under the webview cspSource', () => {
    const urls = [...html.matchAll(/\b(?:https?|wss?|ftp):\/\/[^\s"'<>;)]+/gi)].map((m) => m[0]);
    assert.ok(urls.length >= 2, `expected the script and the style URL, found ${urls.join(', ')}`);
    for (const url of urls) assert.ok(url === CSP_SOURCE || url.startsWith(`${CSP_SOURCE}/`), `remote URL ${url}`);
    assert.doesNotMatch(html, /src="\/\/|href="\/\//, 'protocol-relative URL');
    // The only loads are the bundled script and the stylesheet.
    const loads = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(loads.sort(), [SOURCES.scriptUri, SOURCES.styleUri].sort());
  });

  it('tags the csp-nonce meta (the toolkit style probe) with the same nonce', () => {
    const meta = /<meta property="csp-nonce" content="([^"]+)">/.exec(html);
    assert.equal(meta?.[1], nonceOf(html));
  });

  it('uses a fresh nonce per page: 1000 pages, 1000 different 128-bit nonces', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(nonceOf(resultsPageHtml(SOURCES)));
    assert.equal(seen.size, 1000);
    const n = newNonce();
    assert.equal(Buffer.from(n, 'base64').length, 16);
  });

  it('cannot be broken out of by a resource URI holding quotes or markup', () => {
    const page = resultsPageHtml({ ...SOURCES, scriptUri: `${CSP_SOURCE}/x"><script>alert(1)</script>.js` });
    assert.equal((page.match(/<script\b/gi) ?? []).length, 1);
  });

  it('has a stylesheet that imports nothing and points at no remote URL', () => {
    // out/test/unit -> repository root
    const css = readFileSync(path.resolve(__dirname, '..', '..', '..', 'media', 'results.css'), 'utf8');
    assert.doesNotMatch(css, /@import/i);
    assert.doesNotMatch(css, /url\(\s*['"]?\s*(?:https?:|\/\/)/i);
  });
});

describe('compare page HTML', () => {
  const compare = { ...SOURCES, scriptUri: `${CSP_SOURCE}/ext/dist/compare.js`, compareStyleUri: `${CSP_SOURCE}/ext/media/compare.css` };
  const html = comparePageHtml(compare);

  it('has the results page’s CSP and loads only its own script and the two stylesheets', () => {
    const directives = csp(html);
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), [`'nonce-${nonceOf(html)}'`]);
    const loads = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(loads.sort(), [compare.scriptUri, compare.styleUri, compare.compareStyleUri].sort());
  });

  it('has a stylesheet that imports nothing and points at no remote URL', () => {
    const css = readFileSync(path.resolve(__dirname, '..', '..', '..', 'media', 'compare.css'), 'utf8');
    assert.doesNotMatch(css, /@import/i);
    assert.doesNotMatch(css, /url\(/i);
  });
});
