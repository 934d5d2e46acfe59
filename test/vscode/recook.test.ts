import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi } from './suite';

/** The counts a re-cook must reproduce exactly. */
function counts(r: SoupReport): unknown {
  return {
    ingredients: r.ingredients.map((i) => [i.id, i.sha256, i.metrics?.correct]),
    soup: [r.soup.members, r.soup.metrics.correct],
    uniform: r.baselines.uniform.metrics.correct,
    ensemble: [r.baselines.ensemble.members, r.baselines.ensemble.metrics.correct],
    steps: r.steps.map((s) => [s.candidate, s.correct, s.added]),
  };
}

function readReport(dir: string): SoupReport {
  return JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as SoupReport;
}

describe('Re-cooking a soup', function () {
  this.timeout(900_000);
  let api: ModelSoupsApi;
  let soupDir: string;

  before(async () => {
    api = await getApi();
    await api.refresh();
    // The greedy soup the cooking suite made, or a new one.
    const soup = api.soups().find((s) => s.status === 'ok' && s.method === 'greedy' && !s.name.includes('recook'));
    if (soup) soupDir = soup.dir;
    else {
      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
      assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
      if (outcome.status === 'done') soupDir = outcome.dir;
    }
  });

  it('"Re-cook Soup" cooks a second soup beside the first, in the worker, with the same counts and members', async () => {
    const workers = api.workersStarted();
    const original = readReport(soupDir);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.recook', soupDir);
    assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
    if (outcome.status !== 'done') return;
    assert.equal(api.workersStarted(), workers + 1, 'the re-cook did not run in a worker process');
    assert.equal(path.dirname(outcome.dir), path.dirname(soupDir));
    assert.equal(path.basename(outcome.dir), `${path.basename(soupDir)}-recook`);
    assert.deepEqual(counts(readReport(outcome.dir)), counts(original));
    assert.deepEqual(readReport(soupDir), original, 'the original soup changed');
    assert.ok(api.soups().some((s) => s.dir === outcome.dir), 'the Soups view does not list the re-cooked soup');
  });

  it('refuses to re-cook when an ingredient changed, naming its file, and writes nothing', async () => {
    const ing = readReport(soupDir).ingredients.find((i) => i.status === 'ok');
    assert.ok(ing);
    const file = path.join(api.workspace() ?? '', ing.model);
    const bytes = readFileSync(file);
    const soupsBefore = api.soups().length;
    try {
      writeFileSync(file, Buffer.concat([bytes, Buffer.from([0])]));
      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.recook', soupDir);
      assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
      if (outcome.status !== 'failed') return;
      assert.equal(outcome.code, 'INGREDIENT_CHANGED');
      assert.ok(outcome.message.includes(file), outcome.message);
    } finally {
      writeFileSync(file, bytes);
    }
    await api.refresh();
    assert.equal(api.soups().length, soupsBefore);
  });
});
