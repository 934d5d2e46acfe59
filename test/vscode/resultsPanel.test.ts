import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { CookOutcome } from '../../src/extension/cookController';
import type { PanelInfo } from '../../src/extension/resultsPanel';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi } from './suite';

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);
}

describe('Results panel', () => {
  let api: ModelSoupsApi;
  let soupDir: string;

  before(async () => {
    api = await getApi();
    await api.refresh();
    let soup = api.soups().find((s) => s.status === 'ok');
    if (!soup) {
      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
      assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
      soup = api.soups().find((s) => s.status === 'ok');
    }
    assert.ok(soup);
    soupDir = soup.dir;
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens for a soup and its webview receives and draws the report (table rows and three charts)', async () => {
    const rendered = new Promise<PanelInfo>((resolve) => {
      const sub = api.onPanelRendered((info) => {
        if (info.soupDir !== soupDir) return;
        sub.dispose();
        resolve(info);
      });
    });
    await vscode.commands.executeCommand('modelSoups.showResults', soupDir);
    const info = await within(60_000, 'the webview to render', rendered);
    assert.ok(info.readyCount >= 1, 'the webview never said ready');
    const soup = api.soups().find((s) => s.dir === soupDir);
    assert.ok(soup && soup.status === 'ok');
    // soup, uniform, ensemble, best individual (greedy), then every ingredient
    assert.equal(info.rendered?.rows, 4 + 12);
    assert.equal(info.rendered?.charts, 3);
  });

  it('is restored after a window reload from the state the webview saved', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    assert.equal(api.panels().filter((p) => p.soupDir === soupDir).length, 0);
    const pkg = vscode.extensions.getExtension('model-soups.model-soups')?.packageJSON as { activationEvents?: string[] };
    assert.ok(pkg.activationEvents?.includes('onWebviewPanel:modelSoups.results'), 'VS Code must activate the extension to restore its panels');
    const rendered = new Promise<PanelInfo>((resolve) => {
      const sub = api.onPanelRendered((info) => {
        if (info.soupDir !== soupDir) return;
        sub.dispose();
        resolve(info);
      });
    });
    // After a reload VS Code recreates the panel bare (default options) and passes the saved state.
    const bare = vscode.window.createWebviewPanel('modelSoups.results', 'restored', vscode.ViewColumn.Active, {});
    await api.restorePanel(bare, { soupDir });
    const info = await within(60_000, 'the restored webview to render', rendered);
    assert.equal(info.rendered?.rows, 4 + 12);
    assert.equal(info.rendered?.charts, 3);
    assert.equal(api.panels().filter((p) => p.soupDir === soupDir).length, 1);

    // A panel whose state names no soup is closed rather than left empty.
    const stray = vscode.window.createWebviewPanel('modelSoups.results', 'stray', vscode.ViewColumn.Active, {});
    let disposed = false;
    stray.onDidDispose(() => (disposed = true));
    await api.restorePanel(stray, { nothing: true });
    assert.ok(disposed);
  });

  it('opens one panel per soup: showing the same soup again reuses it', async () => {
    await vscode.commands.executeCommand('modelSoups.showResults', soupDir);
    assert.equal(api.panels().filter((p) => p.soupDir === soupDir).length, 1);
  });
});
