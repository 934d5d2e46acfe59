import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import type { PanelInfo } from '../../src/extension/resultsPanel';
import type { ModelSoupsApi } from '../../src/extension/testApi';

// The PyTorch reference of the example zoo (test/fixtures/fashion-soup/expected.json).
const expected = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'fashion-soup', 'expected.json'), 'utf8')) as {
  ingredients: unknown[];
  greedy_soup: { members: string[]; correct: { heldout: number } };
};

describe('The extension installed from the .vsix', () => {
  let ext: vscode.Extension<ModelSoupsApi>;
  let api: ModelSoupsApi;
  let ws: string;

  before(async () => {
    const found = vscode.extensions.getExtension<ModelSoupsApi>('model-soups.model-soups');
    assert.ok(found, 'model-soups.model-soups is not installed');
    ext = found;
    api = await ext.activate();
    ws = api.workspace() ?? '';
    assert.ok(ws);
    await api.refresh();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('is the copy code-server installed, not a development checkout', () => {
    // runCodeServer.mjs keeps the extensions folder next to the workspace copy.
    const extensionsDir = path.join(ws, '..', 'extensions');
    assert.equal(path.dirname(ext.extensionPath), extensionsDir);
    // A packaged copy has bundles, not sources.
    assert.ok(existsSync(path.join(ext.extensionPath, 'dist', 'worker.js')));
    assert.ok(!existsSync(path.join(ext.extensionPath, 'src')), 'the .vsix carries src/');
  });

  it('cooks the greedy soup of the reference and shows it in the results panel', async () => {
    const rendered: PanelInfo[] = [];
    const sub = api.onPanelRendered((info) => rendered.push(info));
    try {
      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
      assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
      if (outcome.status !== 'done') return;
      assert.equal(path.dirname(outcome.dir), path.join(ws, '.soups'));
      assert.deepEqual(readdirSync(outcome.dir).sort(), ['report.json', 'soup.onnx']);
      const report = JSON.parse(readFileSync(path.join(outcome.dir, 'report.json'), 'utf8')) as SoupReport;
      assert.equal(report.method, 'greedy');
      assert.deepEqual(report.soup.members, expected.greedy_soup.members);
      assert.equal(report.soup.metrics.correct.heldout, expected.greedy_soup.correct.heldout);

      // The panel's script and styles come from the installed copy's dist/ and media/.
      await vscode.commands.executeCommand('modelSoups.showResults', outcome.dir);
      const deadline = Date.now() + 60_000;
      let info: PanelInfo | undefined;
      while (!(info = rendered.find((i) => i.soupDir === outcome.dir && i.rendered))) {
        assert.ok(Date.now() < deadline, 'the results panel did not draw the report within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok((info.rendered?.rows ?? 0) > expected.ingredients.length, `rows: ${info.rendered?.rows}`);
      assert.ok((info.rendered?.charts ?? 0) > 0, 'no chart was drawn');
    } finally {
      sub.dispose();
    }
  });
});
