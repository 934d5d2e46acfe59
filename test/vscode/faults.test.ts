import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CookProgress } from '../../src/engine/cookPlan';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi, extensionLog } from './suite';

// Faults of the background cook as the user sees them: the worker process killed from outside,
// and a second cook asked for while one runs.

// out/test/vscode -> repository root
const workerScript = path.resolve(__dirname, '..', '..', '..', 'dist', 'worker.js');

function within<T>(ms: number, what: string, p: PromiseLike<T>): Promise<T> {
  return Promise.race([Promise.resolve(p), new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);
}

/** Everything in the output folder, hidden temp folders (`.tmp-*`) included. */
function listOutput(ws: string): string[] {
  const out = path.join(ws, '.soups');
  return existsSync(out) ? readdirSync(out).sort() : [];
}

/** Resolves at the first progress step that passes `test`; rejects if the cook ends first. */
function progressWhere(api: ModelSoupsApi, running: PromiseLike<CookOutcome>, test: (p: CookProgress) => boolean): Promise<CookProgress> {
  return new Promise((resolve, reject) => {
    const sub = api.onJobProgress((p) => {
      if (!test(p)) return;
      sub.dispose();
      resolve(p);
    });
    void Promise.resolve(running).then((outcome) => {
      sub.dispose();
      reject(new Error(`the cook ended before the awaited step: ${JSON.stringify(outcome)}`));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the extension's log file contains `text` (the log is flushed asynchronously). */
async function logContains(ws: string, text: string, timeoutMs = 10_000): Promise<boolean | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const file = extensionLog(ws);
    if (!file) return undefined;
    if (readFileSync(file, 'utf8').includes(text)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Faults during a cook', () => {
  let api: ModelSoupsApi;
  let ws: string;

  before(async () => {
    api = await getApi();
    ws = api.workspace() ?? '';
    assert.ok(ws);
    await api.refresh();
  });

  it('SIGKILL of the worker mid-soup: the job is reported failed, nothing is left in .soups, and the next cook works', async function () {
    this.timeout(240_000);
    const before = listOutput(ws);
    const started = api.workersStarted();
    const running = vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    const midSoup = progressWhere(api, running, (p) => p.phase === 'soup' && p.done >= 2);
    await within(120_000, 'the soup phase', midSoup);

    const pid = api.workerPid();
    assert.ok(pid, 'the test API gives no worker pid while cooking');
    assert.notEqual(pid, process.pid, 'the cook must not run in the extension host');
    assert.equal(api.workersStarted(), started + 1);
    // It is the forked worker, not some other process.
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(workerScript), 'the pid is not a dist/worker.js process');
    process.kill(pid, 'SIGKILL');

    const outcome = await within(30_000, 'the killed cook to be reported', running);
    assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
    if (outcome.status === 'failed') {
      assert.equal(outcome.code, 'CRASHED');
      assert.match(outcome.message, /exited unexpectedly \(signal SIGKILL\)/);
    }
    assert.deepEqual(api.lastJob(), outcome);
    assert.equal(api.isCooking(), false);
    assert.equal(api.workerPid(), undefined);
    assert.equal(isAlive(pid), false, 'the worker is still alive');
    // No soup folder and no .tmp-* folder: the runner removed what the killed cook left.
    assert.deepEqual(listOutput(ws), before, 'the killed cook left files in .soups');
    assert.equal(await logContains(ws, 'signal SIGKILL') ?? true, true, 'the log does not mention the kill');

    const next = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    assert.equal(next?.status, 'done', JSON.stringify(next));
    if (next.status !== 'done') return;
    assert.ok(existsSync(path.join(next.dir, 'soup.onnx')));
    assert.deepEqual(listOutput(ws), [...before, path.basename(next.dir)].sort());
    // Leave .soups as it was for the suites that follow.
    rmSync(next.dir, { recursive: true, force: true });
    await api.refresh();
  });

  it('refuses a second cook while one runs, says "a soup is already cooking", and starts no second worker', async function () {
    this.timeout(240_000);
    const before = listOutput(ws);
    const started = api.workersStarted();
    const first = vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    const evaluating = progressWhere(api, first, (p) => p.phase === 'evaluate');
    await within(120_000, 'the first cook to evaluate', evaluating);
    assert.equal(api.isCooking(), true);
    const firstPid = api.workerPid();

    const refused: CookOutcome = { status: 'notStarted', reason: 'a job is running' };
    assert.deepEqual(await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookUniform'), refused);
    assert.deepEqual(await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy'), refused);
    assert.deepEqual(await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookChecked', 'uniform'), refused);
    assert.equal(api.workersStarted(), started + 1, 'a second worker was started');
    assert.equal(api.workerPid(), firstPid, 'the running cook was replaced');
    assert.equal(api.isCooking(), true, 'the refusal stopped the running cook');
    // What the notification says is written to the log as well.
    assert.equal(await logContains(ws, 'refused: a soup is already cooking') ?? true, true, 'the refusal is not in the log');

    await vscode.commands.executeCommand('modelSoups.cancel');
    const outcome = await within(30_000, 'the first cook to stop', first);
    assert.equal(outcome?.status, 'cancelled', JSON.stringify(outcome));
    assert.deepEqual(listOutput(ws), before);
  });
});
