import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';

// Runs in a workspace that code-server opened with workspace trust on and never trusted
// (test/host/runCodeServer.mjs, phase 1b). Restricted Mode must keep the sidebar read-only,
// start no cook process, load no model runtime and write nothing.

const extensionId = 'model-soups.model-soups';
// out/test/vscode-untrusted -> repository root
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const repoExample = path.join(repoRoot, 'examples', 'fashion-soup');
const UNTRUSTED: CookOutcome = { status: 'notStarted', reason: 'untrusted workspace' };

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Relative path -> "size mtime" (or "dir mtime") of everything under `root`. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const st = statSync(abs);
      out.set(path.relative(root, abs), `${e.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(abs);
    }
  };
  walk(root);
  return out;
}

/** Relative path -> SHA-256 of every file under `root`. */
function contents(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of snapshot(root).keys()) {
    const abs = path.join(root, rel);
    if (statSync(abs).isFile()) out.set(rel, createHash('sha256').update(readFileSync(abs)).digest('hex'));
  }
  return out;
}

/** Pids of live processes started from this extension's dist/worker.js. */
function workerProcesses(): number[] {
  const worker = path.join(repoRoot, 'dist', 'worker.js');
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(worker)) pids.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

describe('Restricted Mode (untrusted workspace)', () => {
  let api: ModelSoupsApi;
  let ws: string;

  before(async () => {
    const ext = vscode.extensions.getExtension<ModelSoupsApi>(extensionId);
    assert.ok(ext, `extension ${extensionId} is not loaded`);
    await waitFor('activation by workspaceContains:modelsoups.json', () => ext.isActive);
    api = await ext.activate();
    ws = api.workspace() ?? '';
    assert.ok(ws, 'no workspace folder');
  });

  it('runs in a workspace that VS Code does not trust', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('activates (limited support) and lists the example runs', async () => {
    await api.refresh();
    assert.equal(api.sidebarState(), 'ready');
    assert.equal(api.ingredientRows().length, 12);
  });

  it('shows the Ingredients tree read-only: no checkboxes, no include/exclude menu context', () => {
    for (const row of api.ingredientRows()) {
      assert.equal(row.checked, undefined, `${row.id} has a checkbox`);
      assert.doesNotMatch(row.contextValue, /included|excluded/, row.id);
      const item = api.ingredientItem(row.id);
      assert.ok(item, row.id);
      assert.equal(item.checkboxState, undefined, `${row.id} TreeItem has a checkboxState`);
    }
  });

  it('the cook commands start no job, no worker process, and write nothing', async () => {
    const before = snapshot(ws);
    assert.equal(api.workersStarted(), 0);
    for (const command of ['modelSoups.cookGreedy', 'modelSoups.cookUniform']) {
      const outcome = await vscode.commands.executeCommand<CookOutcome>(command);
      assert.deepEqual(outcome, UNTRUSTED, command);
      assert.equal(api.isCooking(), false);
    }
    // cookChecked refuses before it even asks for a method.
    assert.equal(await vscode.commands.executeCommand('modelSoups.cookChecked', 'greedy'), undefined);
    // So does a re-cook, whatever soup it is given.
    assert.equal(await vscode.commands.executeCommand('modelSoups.recook', path.join(ws, '.soups', 'greedy-1')), undefined);
    assert.deepEqual(api.lastJob(), UNTRUSTED);
    assert.equal(api.workersStarted(), 0, 'a cook worker was forked');
    assert.equal(api.workerPid(), undefined);
    assert.deepEqual(workerProcesses(), [], 'a dist/worker.js process is running');
    // Give a stray write (a late scan, a soup index) time to land before comparing.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(snapshot(ws), before, 'a file in the workspace was created, changed or removed');
    assert.equal(existsSync(path.join(ws, '.soups')), false);
  });

  it('include/exclude commands change nothing', async () => {
    const rows = JSON.stringify(api.ingredientRows());
    await vscode.commands.executeCommand('modelSoups.excludeIngredient');
    await vscode.commands.executeCommand('modelSoups.includeIngredient');
    assert.equal(JSON.stringify(api.ingredientRows()), rows);
  });

  it('loads no model runtime into the extension host (onnxruntime is neither required nor mapped)', () => {
    assert.deepEqual(
      Object.keys(require.cache).filter((k) => /onnxruntime/i.test(k)),
      [],
    );
    const maps = readFileSync('/proc/self/maps', 'utf8');
    assert.doesNotMatch(maps, /onnxruntime/i);
  });

  it('leaves the workspace exactly as copied from the example: same files, same bytes', () => {
    const want = contents(repoExample);
    const got = contents(ws);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [rel, hash] of want) assert.equal(got.get(rel), hash, rel);
  });
});
