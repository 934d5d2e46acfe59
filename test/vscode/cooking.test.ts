import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi } from './suite';

const GREEDY_MEMBERS = ['lightning_logs/version_0', 'runs/ft-07', 'lightning_logs/version_3', 'runs/ft-10', 'sweep-c09'];

function listOutput(ws: string): string[] {
  const out = path.join(ws, '.soups');
  return existsSync(out) ? readdirSync(out).sort() : [];
}

describe('Cooking through the commands', () => {
  let api: ModelSoupsApi;
  let ws: string;

  before(async () => {
    api = await getApi();
    ws = api.workspace() ?? '';
    assert.ok(ws);
    await api.refresh();
  });

  it('"Cook Greedy Soup" writes soup.onnx and a report whose greedy members are the expected five, in order', async () => {
    const before = listOutput(ws);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
    if (outcome.status !== 'done') return;
    assert.deepEqual(outcome.report.soup.members, GREEDY_MEMBERS);
    assert.equal(path.dirname(outcome.dir), path.join(ws, '.soups'));
    assert.ok(existsSync(path.join(outcome.dir, 'soup.onnx')));
    const onDisk = JSON.parse(readFileSync(path.join(outcome.dir, 'report.json'), 'utf8')) as SoupReport;
    assert.equal(onDisk.method, 'greedy');
    assert.deepEqual(onDisk.soup.members, GREEDY_MEMBERS);
    assert.equal(onDisk.steps.length, 12);
    assert.deepEqual(
      onDisk.steps.filter((s) => s.added).map((s) => s.candidate),
      GREEDY_MEMBERS,
    );
    assert.equal(onDisk.baselines.ensemble.members.length, 12);
    // Exactly one new folder, and no temporary leftovers.
    assert.deepEqual(listOutput(ws), [...before, path.basename(outcome.dir)].sort());
    assert.deepEqual(api.lastJob(), outcome);
    assert.equal(api.isCooking(), false);
  });

  it('lists the new soup in the Soups view, read back from its report.json', async () => {
    const outcome = api.lastJob();
    assert.ok(outcome && outcome.status === 'done');
    const soup = api.soups().find((s) => s.dir === outcome.dir);
    assert.ok(soup, `soups: ${api.soups().map((s) => s.dir).join(', ')}`);
    assert.equal(soup.status, 'ok');
    if (soup.status === 'ok') {
      assert.equal(soup.method, 'greedy');
      assert.equal(soup.members.length, 5);
      assert.equal(soup.heldout, outcome.report.soup.metrics.heldout);
    }
  });

  it('"Cancel Cooking" stops a running cook and leaves no output folder behind', async () => {
    const before = listOutput(ws);
    // Cancel late, while greedy is trying candidates: the worker is busy in onnxruntime.
    const midSoup = new Promise<void>((resolve) => {
      const sub = api.onJobProgress((p) => {
        if (p.phase !== 'soup' || p.done < 3) return;
        sub.dispose();
        resolve();
      });
    });
    const running = vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    await midSoup;
    assert.equal(api.isCooking(), true);
    await vscode.commands.executeCommand('modelSoups.cancel');
    const outcome = await running;
    assert.equal(outcome?.status, 'cancelled', JSON.stringify(outcome));
    assert.equal(api.isCooking(), false);
    assert.deepEqual(listOutput(ws), before, 'the cancelled cook left files in .soups');
  });

  it('reports a failed cook with the engine\'s message, leaves no output and stays usable', async () => {
    const before = listOutput(ws);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookChecked', 'no-such-method');
    assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
    if (outcome.status === 'failed') assert.match(outcome.message, /no-such-method/);
    assert.equal(api.isCooking(), false);
    assert.deepEqual(listOutput(ws), before);
  });
});
