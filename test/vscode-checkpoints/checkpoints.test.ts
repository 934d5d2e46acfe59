import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { formatPercent } from '../../src/shared/format';
import { getApi } from '../vscode/suite';
import { readZoo } from './zoo';

const { expected, runId } = readZoo('fashion-ckpt');

describe('Checkpoint runs (fashion-ckpt) in VS Code', () => {
  let api: ModelSoupsApi;

  before(async () => {
    api = await getApi();
    assert.equal(path.basename(api.workspace() ?? ''), 'fashion-ckpt');
    await api.refresh();
  });

  it('lists the 12 usable runs best first, then sweep-x13 as unusable naming os.system', () => {
    const rows = api.ingredientRows();
    const usable = rows.filter((r) => r.status === 'ok');
    assert.deepEqual(
      usable.map((r) => r.id),
      expected.sorted_by_heldout.map(runId),
    );
    assert.ok(usable.every((r) => r.checked === true), JSON.stringify(rows));
    assert.equal(rows.length, usable.length + expected.rejected.length);
    for (const rejected of expected.rejected) {
      const row = rows.find((r) => r.id === rejected.id);
      assert.equal(row?.status, rejected.status);
      assert.equal(row?.checked, false);
    }
    const x13 = rows.find((r) => r.id === 'sweep-x13');
    assert.match(x13?.description ?? '', /^unusable \(unreadable\): .*os\.system/);
    assert.ok(!x13?.description.includes('%'), `an unusable run shows an accuracy: ${x13?.description}`);
  });

  it('describes each run with its accuracy, its weights format and the dtype it is stored in', () => {
    const rows = new Map(api.ingredientRows().map((r) => [r.id, r]));
    for (const ing of expected.ingredients) {
      const description = rows.get(runId(ing.id))?.description ?? '';
      assert.ok(description.startsWith(formatPercent(ing.heldout_acc_in_metrics)), `${ing.id}: ${description}`);
      // "… · <format> <dtype>" closes the row of a checked run.
      assert.match(description, new RegExp(` · [a-z-]+ ${ing.dtype}$`), `${ing.id}: ${description}`);
    }
    assert.match(rows.get('runs/ft-11')?.description ?? '', / · safetensors bf16$/);
    assert.match(rows.get('sweep-c09')?.description ?? '', / · safetensors f16$/);
    assert.match(rows.get('runs/ft-08')?.description ?? '', / · safetensors-sharded f32$/);
    // The Trainer run names the checkpoint it is read from.
    const ft07 = expected.ingredients.find((i) => runId(i.id) !== i.id);
    assert.ok(ft07);
    assert.ok(rows.get(runId(ft07.id))?.description.includes(` · ${path.basename(ft07.id)} · `), rows.get(runId(ft07.id))?.description);
  });

  it('"Cook Greedy Soup" writes soup.onnx, model.safetensors and a report with the expected greedy members', async () => {
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
    if (outcome.status !== 'done') return;
    assert.deepEqual(readdirSync(outcome.dir).sort(), ['model.safetensors', 'report.json', 'soup.onnx']);
    const report = JSON.parse(readFileSync(path.join(outcome.dir, 'report.json'), 'utf8')) as SoupReport;
    assert.equal(report.method, 'greedy');
    assert.deepEqual(report.soup.members, expected.greedy_soup.members.map(runId));
    assert.deepEqual(report.soup.metrics.correct, expected.greedy_soup.correct);
    assert.equal(report.ingredients.find((i) => i.id === 'sweep-x13')?.status, 'unreadable');
  });
});
