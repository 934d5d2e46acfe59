import * as assert from 'node:assert/strict';
import { chmodSync, cpSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CookOutcome } from '../../src/extension/cookController';
import type { PanelInfo } from '../../src/extension/resultsPanel';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi, extensionLog } from './suite';

// Run folders whose names look like markup, hold quotes, or a newline: every surface (tree,
// tooltip, results panel, output channel) must show them as text, never interpret them.
// ('/' cannot be part of a folder name, so closing tags are left out.)
const HOSTILE = ['<img src=x onerror=alert(1)>', `it's "quoted" & <b>bold`, 'new\nline <svg onload=alert(2)>'];

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function within<T>(ms: number, what: string, p: PromiseLike<T>): Promise<T> {
  return Promise.race([Promise.resolve(p), new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);
}

/** A raw HTML tag as a Markdown renderer would see one: `<name` then space, `/` or `>`. */
const RAW_TAG = /<\/?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)/;

describe('Hostile run folder names', () => {
  let api: ModelSoupsApi;
  let ws: string;
  let soupDir: string | undefined;

  before(async () => {
    api = await getApi();
    ws = api.workspace() ?? '';
    assert.ok(ws);
    for (const name of HOSTILE) {
      const dir = path.join(ws, name);
      cpSync(path.join(ws, 'sweep-c09'), dir, { recursive: true });
      // The example is read-only; the copies must be removable by any user afterwards.
      chmodSync(dir, 0o755);
    }
    await api.refresh();
    await waitFor('the hostile runs in the tree', () => HOSTILE.every((n) => api.ingredientRows().some((r) => r.id === n)));
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const name of HOSTILE) rmSync(path.join(ws, name), { recursive: true, force: true });
    if (soupDir) rmSync(soupDir, { recursive: true, force: true });
    await api.refresh();
    await waitFor('the hostile runs to leave the tree', () => api.ingredientRows().length === 12 && !api.ingredientRows().some((r) => HOSTILE.includes(r.id)));
    if (soupDir) await waitFor('the hostile soup to leave the Soups view', () => !api.soups().some((s) => s.dir === soupDir));
  });

  it('scans them as ordinary scored runs whose id is the folder name, byte for byte', () => {
    for (const name of HOSTILE) {
      const run = api.scan()?.runs.find((r) => r.id === name);
      assert.ok(run, name);
      assert.equal(run.status, 'ok', `${JSON.stringify(name)}: ${run.reason}`);
      assert.equal(path.basename(run.dir), name);
    }
  });

  it('labels each tree row with exactly the name, as a plain string (TreeItem labels are text)', () => {
    for (const name of HOSTILE) {
      const row = api.ingredientRows().find((r) => r.id === name);
      assert.ok(row);
      assert.equal(row.label, name);
      const item = api.ingredientItem(name);
      assert.ok(item, name);
      assert.equal(typeof item.label, 'string', 'a label object could carry highlights; a string is plain text');
      assert.equal(item.label, name);
      assert.equal(item.id, `run:${name}`);
      assert.ok(item.accessibilityInformation?.label.startsWith(`${name}, `));
    }
  });

  it('puts the name in the tooltip as escaped Markdown: no HTML, not trusted, no raw tag in the source', () => {
    for (const name of HOSTILE) {
      const tip = api.ingredientItem(name)?.tooltip;
      assert.ok(tip instanceof vscode.MarkdownString || (typeof tip === 'object' && tip !== null && 'value' in tip), `${name}: tooltip is not Markdown`);
      const md = tip as vscode.MarkdownString;
      assert.ok(!md.isTrusted, 'a trusted tooltip could run command links');
      assert.ok(!md.supportHtml, 'HTML must not be rendered in the tooltip');
      assert.doesNotMatch(md.value, RAW_TAG, `raw tag in the tooltip source: ${md.value.split('\n')[0]}`);
      // VS Code's appendText escapes '>' and the Markdown punctuation and turns spaces into
      // &nbsp;: '<' itself stays, but no tag can form, and with supportHtml off the renderer
      // would escape one anyway.
      assert.ok(md.value.startsWith('**') && md.value.includes('\\>'), md.value);
      assert.doesNotMatch(md.value, /onerror=alert\(1\)>/);
    }
    const first = (api.ingredientItem(HOSTILE[0])?.tooltip as vscode.MarkdownString).value.split('\n')[0];
    assert.equal(first, '**<img&nbsp;src=x&nbsp;onerror=alert\\(1\\)\\>**');
  });

  it('cooks a uniform soup that includes them, names them in the report, and logs them literally', async function () {
    this.timeout(240_000);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookUniform');
    assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
    if (outcome.status !== 'done') return;
    soupDir = outcome.dir;
    for (const name of HOSTILE) {
      assert.ok(outcome.report.soup.members.includes(name), `${JSON.stringify(name)} is not a member`);
      assert.ok(outcome.report.ingredients.some((i) => i.id === name));
    }
    const onDisk = JSON.parse(readFileSync(path.join(outcome.dir, 'report.json'), 'utf8')) as { soup: { members: string[] } };
    assert.deepEqual(onDisk.soup.members, outcome.report.soup.members);

    const log = extensionLog(ws);
    if (!log) {
      // Not under test/host/runCodeServer.mjs: the log file is elsewhere.
      console.log('      (output channel check skipped: no code-server log folder next to the workspace)');
      return;
    }
    // The log is flushed asynchronously. Each name appears as written (no escaping, no entities),
    // except that a line break shows as ⏎ so that a folder name cannot forge a log line.
    const lines = HOSTILE.map((name) => `evaluated ${name.replace(/\n/g, '⏎')} — held-out`);
    await waitFor('the evaluation lines in the log', () => lines.every((l) => readFileSync(log, 'utf8').includes(l)), 10_000).catch(() => undefined);
    const text = readFileSync(log, 'utf8');
    for (const l of lines) assert.ok(text.includes(l), `log has no line ${JSON.stringify(l)}`);
    assert.ok(!text.includes('&lt;img'), 'the log holds an HTML-escaped name');
  });

  it('shows them as text in the results panel (the webview reports the textContent of its rows)', async function () {
    this.timeout(120_000);
    assert.ok(soupDir, 'no soup was cooked');
    const dir = soupDir;
    const rendered = new Promise<PanelInfo>((resolve) => {
      const sub = api.onPanelRendered((info) => {
        if (info.soupDir !== dir) return;
        sub.dispose();
        resolve(info);
      });
    });
    await vscode.commands.executeCommand('modelSoups.showResults', dir);
    const info = await within(60_000, 'the webview to render', rendered);
    const labels = info.rendered?.labels;
    assert.ok(labels, 'the webview sent no row labels');
    // Uniform soup, ensemble, best individual, then the 15 ingredients.
    assert.equal(labels.length, info.rendered?.rows);
    assert.equal(labels.length, 3 + 15);
    for (const name of HOSTILE) {
      // Had the name been parsed as HTML, the cell's textContent would lack the tags (or be empty).
      assert.equal(labels.filter((l) => l === name).length, 1, `${JSON.stringify(name)} is not a row's text: ${JSON.stringify(labels)}`);
    }
  });
});
