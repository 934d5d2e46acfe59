import * as assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { scanWorkspace } from '../../src/engine/discovery/scanWorkspace';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi } from './suite';

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

  it('labels each row with its run name and describes it with accuracy and layout', async () => {
    const scan = await scanWorkspace(ws, loadConfig(ws));
    const rows = api.ingredientRows();
    for (const [i, run] of scan.runs.entries()) {
      assert.equal(rows[i].label, run.id);
      assert.equal(rows[i].status, run.status);
      assert.ok(rows[i].description.startsWith(`${((run.heldout ?? NaN) * 100).toFixed(1)} % · ${run.layout}`), rows[i].description);
    }
    assert.equal(rows[0].description.slice(0, 6), '87.8 %');
  });

  it('checks every scored, compatible run by default', () => {
    const rows = api.ingredientRows();
    assert.ok(rows.every((r) => r.status === 'ok' && r.checked === true && r.contextValue.startsWith('run:ok:included')), JSON.stringify(rows));
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
