import * as assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfig } from '../../src/engine/config';
import { scanWorkspace } from '../../src/engine/discovery/scanWorkspace';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { addBrokenRun, getApi } from './suite';

// out/test/vscode -> repository root
const expected = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'fashion-soup', 'expected.json'), 'utf8')) as { sorted_by_heldout: string[] };

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Ingredients tree', () => {
  let api: ModelSoupsApi;
  let ws: string;

  before(async () => {
    api = await getApi();
    const folder = api.workspace();
    assert.ok(folder, 'no workspace folder');
    ws = folder;
    await api.refresh();
  });

  it('shows the runs in exactly the order and with the ids the engine scan reports', async () => {
    const scan = await scanWorkspace(ws, loadConfig(ws));
    assert.deepEqual(
      api.ingredientRows().map((r) => r.id),
      scan.runs.map((r) => r.id),
    );
  });

  it('ranks the 12 example runs by held-out accuracy, best first (the fixture order)', () => {
    assert.deepEqual(
      api.ingredientRows().map((r) => r.id),
      expected.sorted_by_heldout,
    );
  });

  it('labels each row with the distinctive end of its id (whole id in tooltip and accessible name) and describes it with accuracy and layout', async () => {
    const scan = await scanWorkspace(ws, loadConfig(ws));
    const rows = api.ingredientRows();
    for (const [i, run] of scan.runs.entries()) {
      // lightning_logs/version_0 -> version_0, runs/ft-07 -> ft-07: the accuracy stays in view.
      assert.equal(rows[i].label, run.id.split('/').at(-1));
      const item = api.ingredientItem(run.id);
      const tooltip = item?.tooltip;
      // appendText escapes Markdown (lightning\\_logs): compare the text it stands for.
      const text = (typeof tooltip === 'string' ? tooltip : tooltip?.value ?? '').replace(/\\(.)/g, '$1');
      assert.ok(text.includes(run.id), `the tooltip does not name the whole id: ${text}`);
      assert.ok(item?.accessibilityInformation?.label.startsWith(`${run.id}, `));
      assert.equal(rows[i].status, run.status);
      assert.ok(rows[i].description.startsWith(`${((run.heldout ?? NaN) * 100).toFixed(1)} % · ${run.layout}`), rows[i].description);
    }
    assert.equal(rows[0].description.slice(0, 6), '87.8 %');
  });

  it('checks every scored, compatible run by default', () => {
    const rows = api.ingredientRows();
    assert.ok(rows.every((r) => r.status === 'ok' && r.checked === true && r.contextValue.startsWith('run:ok:included')), JSON.stringify(rows));
  });

  it('shows an unreadable run as unusable (no accuracy), aligned by an unticked box, and counts it', async () => {
    const dir = addBrokenRun(ws, 'sweep-a02', 'sweep-a02-broken');
    try {
      await waitFor('the broken run in the tree', () => api.ingredientRows().some((r) => r.id === 'sweep-a02-broken'));
      const row = api.ingredientRows().find((r) => r.id === 'sweep-a02-broken');
      assert.ok(row);
      assert.equal(row.status, 'unreadable');
      assert.match(row.description, /^unusable \(unreadable\): /);
      assert.ok(!row.description.includes('%'), `an unusable run shows an accuracy: ${row.description}`);
      // Every row has a box, so the names line up; the unusable one is never ticked.
      assert.equal(row.checked, false);
      assert.ok(api.ingredientRows().every((r) => r.checked !== undefined));
      assert.equal(api.ingredientRows().at(-1)?.id, 'sweep-a02-broken');
      assert.match(api.ingredientsMessage() ?? '', /12 of 12 usable runs checked \(13 found, 1 unusable\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await waitFor('the broken run to go', () => !api.ingredientRows().some((r) => r.id === 'sweep-a02-broken'));
  });

  it('a click on a run selects it and shows its details, staying in the Model Soups view', async () => {
    const item = api.ingredientItem(expected.sorted_by_heldout[0]);
    assert.equal(item?.command?.command, 'modelSoups.showRun');
    await vscode.commands.executeCommand(item.command.command, ...(item.command.arguments ?? []));
    assert.deepEqual(api.ingredientSelection(), [expected.sorted_by_heldout[0]]);
    // Its files open in an editor rather than switching the sidebar to the Explorer.
    const files = api.ingredientDetails(expected.sorted_by_heldout[0]).find((i) => i.label === 'Files');
    assert.ok(files);
    const model = api.ingredientDetails(expected.sorted_by_heldout[0], 'Files').find((i) => i.label === 'model.onnx');
    assert.equal(model?.command?.command, 'vscode.open');
  });

  it('without evaluation data, lists the runs it found under a "Configure Evaluation Data" row', async () => {
    const file = path.join(ws, 'modelsoups.json');
    const before = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, JSON.stringify({ exclude: ['expected/**'] }));
      await api.refresh();
      assert.equal(api.sidebarState(), 'noEvalData');
      const roots = api.ingredientRoots();
      assert.equal(roots[0]?.command?.command, 'modelSoups.configureEvaluation');
      // Without a config, pretrained/ (a model without metrics) is found as an unscored run too.
      const scan = await scanWorkspace(ws, loadConfig(ws));
      assert.deepEqual(
        api.ingredientRows().map((r) => r.id),
        scan.runs.map((r) => r.id),
      );
      assert.deepEqual(scan.runs.filter((r) => r.status === 'ok').map((r) => r.id), expected.sorted_by_heldout);
      assert.match(api.ingredientsMessage() ?? '', new RegExp(`${scan.runs.length} runs found.*No held-out data is configured`));
    } finally {
      writeFileSync(file, before);
      await api.refresh();
    }
    assert.equal(api.sidebarState(), 'ready');
  });

  it('keeps the pretrained model apart: not an ingredient row, but known to the scan', () => {
    assert.ok(!api.ingredientRows().some((r) => r.id.startsWith('pretrained')));
    assert.equal(api.scan()?.pretrained?.id.startsWith('pretrained'), true);
    assert.equal(api.sidebarState(), 'ready');
  });

  it('refreshes by itself when a run appears, changes and disappears', async () => {
    const dir = path.join(ws, 'sweep-z99');
    cpSync(path.join(ws, 'sweep-a02'), dir, { recursive: true });
    try {
      const metrics = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
      metrics.val_accuracy = 0.999;
      writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics));
      await waitFor('the new run at the top', () => api.ingredientRows()[0]?.id === 'sweep-z99');

      metrics.val_accuracy = 0.001;
      writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics));
      await waitFor('the changed run at the bottom', () => api.ingredientRows().at(-1)?.id === 'sweep-z99');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await waitFor('the removed run to disappear', () => !api.ingredientRows().some((r) => r.id === 'sweep-z99'));
    assert.deepEqual(
      api.ingredientRows().map((r) => r.id),
      expected.sorted_by_heldout,
    );
  });
});
