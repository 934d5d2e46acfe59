import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import type { PanelInfo } from '../../src/extension/resultsPanel';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { addBrokenRun, extensionLog, getApi } from './suite';

/** The next render of the panel of the soup `dir()` names (known only once the cook ends). */
function rendered(api: ModelSoupsApi, dir: () => string | undefined): Promise<PanelInfo> {
  return new Promise((resolve) => {
    const sub = api.onPanelRendered((info) => {
      // The panel can draw before the cook's outcome (and so its folder) is handed back.
      const wanted = dir();
      if (wanted ? info.soupDir !== wanted : !path.basename(info.soupDir).startsWith('greedy-')) return;
      sub.dispose();
      resolve(info);
    });
  });
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);
}

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
    // The user is editing a file when the cook ends: the panel must open beside it and leave the focus there.
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, 'modelsoups.json')), { viewColumn: vscode.ViewColumn.One });
    let dir: string | undefined;
    const panel = rendered(api, () => dir);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
    if (outcome?.status === 'done') dir = outcome.dir;
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

    // The results panel opens by itself beside the editor, without taking the focus.
    const info = await within(60_000, 'the results panel to render', panel);
    const placement = api.panelPlacement(outcome.dir);
    assert.ok(placement?.visible, 'the new soup\'s panel is not in front');
    assert.notEqual(placement.viewColumn, vscode.ViewColumn.One, 'the panel did not open beside the editor');
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, editor.document.uri.fsPath, 'the panel took the focus from the editor');
    assert.equal(info.rendered?.summary?.split(' · ')[0], '5 of 12 checked (12 found)');
    assert.deepEqual(info.rendered?.cards, ['chart-scatter', 'chart-trajectory', 'chart-shifts']);
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
    // The row tells soups apart by method, held-out and shift average; only the newest is expanded.
    const items = api.soupItems();
    const row = items.find((i) => i.id?.startsWith(`soup:${outcome.dir}`));
    assert.match(String(row?.description), /^Greedy soup · held-out \d+\.\d % · shift avg \d+\.\d % · 5 members$/);
    assert.equal(row?.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    assert.equal(row?.id, `soup:${outcome.dir}:newest`);
    assert.ok(items.filter((i) => i !== row).every((i) => i.collapsibleState !== vscode.TreeItemCollapsibleState.Expanded));
  });

  it('counts checked, found and skipped runs: an unchecked run is "not checked", an unreadable one is named in the header, the log and the summary', async () => {
    const broken = addBrokenRun(ws, 'sweep-a02', 'sweep-a02-broken');
    const unchecked = ['sweep-b05', 'runs/ft-00'];
    const settings = vscode.workspace.getConfiguration('modelSoups');
    let dir: string | undefined;
    try {
      await api.refresh();
      assert.equal(api.scan()?.runs.find((r) => r.id === 'sweep-a02-broken')?.status, 'unreadable');
      await api.setChecked(unchecked, false);
      // With the setting off, the panel waits for "Show Results".
      await settings.update('openResultsAfterCook', false, vscode.ConfigurationTarget.Workspace);
      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookUniform');
      assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
      if (outcome.status !== 'done') return;
      dir = outcome.dir;
      assert.equal(api.panelPlacement(outcome.dir), undefined, 'the panel opened although the setting is off');
      assert.match(api.ingredientsMessage() ?? '', /Skipped 1 unusable run: sweep-a02-broken \(unreadable\)/);
      const log = extensionLog(ws);
      if (log) assert.match(readFileSync(log, 'utf8'), /skipped sweep-a02-broken: unreadable: /);

      const panel = rendered(api, () => dir);
      await vscode.commands.executeCommand('modelSoups.showResults', outcome.dir);
      const info = await within(60_000, 'the results panel to render', panel);
      assert.equal(info.rendered?.summary?.split(' · ')[0], '10 of 10 checked (13 found)');
      assert.ok(info.rendered?.hints?.some((h) => /^Skipped 1 unusable run: sweep-a02-broken \(unreadable: /.test(h)), JSON.stringify(info.rendered?.hints));
      // A uniform soup has no greedy trajectory: no card for it.
      assert.deepEqual(info.rendered?.cards, ['chart-scatter', 'chart-shifts']);
    } finally {
      await settings.update('openResultsAfterCook', undefined, vscode.ConfigurationTarget.Workspace);
      await api.setChecked(unchecked, true);
      rmSync(broken, { recursive: true, force: true });
      if (dir) rmSync(dir, { recursive: true, force: true });
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await api.refresh();
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
    assert.match(api.ingredientsMessage() ?? '', /was cancelled/);
    assert.deepEqual(listOutput(ws), before, 'the cancelled cook left files in .soups');
  });

  it('reports a failed cook with the engine\'s message, leaves no output and stays usable', async () => {
    const before = listOutput(ws);
    const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookChecked', 'no-such-method');
    assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
    if (outcome.status === 'failed') assert.match(outcome.message, /no-such-method/);
    // The cancelled cook's line went when this one started: only this outcome is shown.
    assert.doesNotMatch(api.ingredientsMessage() ?? '', /cancelled/);
    assert.match(api.ingredientsMessage() ?? '', /failed/);
    assert.equal(api.isCooking(), false);
    assert.deepEqual(listOutput(ws), before);
  });
});
