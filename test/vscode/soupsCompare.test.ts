import * as assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ComparePanelInfo } from '../../src/extension/comparePanel';
import type { CookOutcome } from '../../src/extension/cookController';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { readSoupReport } from '../../src/engine/soupIndex';
import { formatDecimal, formatGain, formatPercent } from '../../src/shared/format';
import { getApi } from './suite';

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The next render of the compare panel (of the pair `dirs`, when given: a reload may redraw the previous pair first). */
function nextRender(api: ModelSoupsApi, dirs?: [string, string]): Promise<ComparePanelInfo> {
  return new Promise((resolve) => {
    const sub = api.onComparePanelRendered((info) => {
      if (dirs && (info.soupDirs[0] !== dirs[0] || info.soupDirs[1] !== dirs[1])) return;
      sub.dispose();
      resolve(info);
    });
  });
}

function compareTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('modelSoups.compare'));
}

describe('Compare Soups', () => {
  let api: ModelSoupsApi;
  let greedyDir: string;
  let uniformDir: string;
  const cooked: string[] = [];

  before(async function () {
    // Cooking with the default analyses takes minutes on a busy 2-core machine.
    this.timeout(900_000);
    api = await getApi();
    await api.refresh();
    const settings = vscode.workspace.getConfiguration('modelSoups');
    await settings.update('openResultsAfterCook', false, vscode.ConfigurationTarget.Workspace);
    // Calibration only (free: it reuses the cook's own passes); WiSE-FT and angles would add minutes.
    const ws = api.workspace();
    assert.ok(ws);
    const configFile = path.join(ws, 'modelsoups.json');
    const config = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, JSON.stringify({ ...(JSON.parse(config) as object), analyses: { run: ['calibration'] } }, null, 2));
    await api.refresh();
    try {
      // A greedy and a uniform soup of the example: cooked here unless an earlier suite left them.
      for (const method of ['greedy', 'uniform']) {
        let soup = api.soups().find((s) => s.status === 'ok' && s.method === method);
        if (!soup) {
          const outcome = await vscode.commands.executeCommand<CookOutcome>(method === 'greedy' ? 'modelSoups.cookGreedy' : 'modelSoups.cookUniform');
          assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
          if (outcome.status === 'done') cooked.push(outcome.dir);
          soup = api.soups().find((s) => s.status === 'ok' && s.method === method);
        }
        assert.ok(soup);
        if (method === 'greedy') greedyDir = soup.dir;
        else uniformDir = soup.dir;
      }
    } finally {
      writeFileSync(configFile, config);
      await api.refresh();
      await settings.update('openResultsAfterCook', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const dir of cooked) rmSync(dir, { recursive: true, force: true });
    await api.refresh();
  });

  it('opens one panel with two selected soups side by side, older as A, and B − A per dataset equal to the reports’ numbers', async () => {
    const pkg = vscode.extensions.getExtension('model-soups.model-soups')?.packageJSON as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
    assert.ok(pkg.contributes.menus['view/item/context'].some((m) => m.command === 'modelSoups.compareSoups' && m.when?.includes('view == modelSoups.soups')), 'no Compare Soups… on a soup row');
    const soups = api.soups();
    const created = (dir: string): string => {
      const s = soups.find((x) => x.dir === dir);
      return s?.status === 'ok' ? s.createdAt : '';
    };
    const [olderDir, newerDir] = created(greedyDir) <= created(uniformDir) ? [greedyDir, uniformDir] : [uniformDir, greedyDir];

    const rendered = nextRender(api);
    // As the Soups view calls it: the clicked row, then the whole selection (newer one first here).
    await vscode.commands.executeCommand('modelSoups.compareSoups', newerDir, [newerDir, olderDir]);
    const info = await within(60_000, 'the compare panel to render', rendered);
    assert.deepEqual(info.soupDirs, [olderDir, newerDir]);
    assert.ok(info.readyCount >= 1);
    const shown = info.rendered;
    assert.ok(shown);

    const a = await readSoupReport(olderDir);
    const b = await readSoupReport(newerDir);
    assert.deepEqual(shown.table[0], ['Dataset', 'A accuracy', 'A correct', 'B accuracy', 'B correct', 'B − A', 'Which is higher']);
    const body = shown.table.slice(1);
    assert.deepEqual(
      body.map((r) => r[0]),
      ['held-out', 'test', ...a.shiftNames.map((s) => `shift: ${s}`), 'shift average'],
    );
    for (const [label, key] of [['held-out', 'heldout'], ['test', 'test'], ...a.shiftNames.map((s) => [`shift: ${s}`, s])]) {
      const acc = (r: typeof a): number | undefined => (key === 'heldout' || key === 'test' ? r.soup.metrics[key] : r.soup.metrics.shifts[key]);
      const row = body.find((r) => r[0] === label);
      assert.deepEqual(row?.slice(1, 6), [
        formatPercent(acc(a), 2),
        `${a.soup.metrics.correct[key]} / ${a.datasets[key].n}`,
        formatPercent(acc(b), 2),
        `${b.soup.metrics.correct[key]} / ${b.datasets[key].n}`,
        formatGain(acc(b), acc(a), 2),
      ]);
      // The sign is written out, not only coloured.
      assert.match(row?.[5] ?? '', /^[+−±]\d+\.\d\d pp$/);
      assert.match(row?.[6] ?? '', /^(B higher|A higher|the same)/);
    }
    const avg = body.at(-1);
    assert.deepEqual(avg?.slice(1, 6), [formatPercent(a.soup.metrics.shiftAvg, 2), '—', formatPercent(b.soup.metrics.shiftAvg, 2), '—', formatGain(b.soup.metrics.shiftAvg, a.soup.metrics.shiftAvg, 2)]);
    assert.deepEqual(shown.warnings, [], 'the two soups share their data');

    const common = a.soup.members.filter((m) => b.soup.members.includes(m));
    assert.equal(shown.members[0], `In both soups (${common.length}): ${common.join(', ')}`);
    assert.equal(shown.members.length, 3);
    assert.equal(shown.charts, 1);

    // Calibration is on by default: both soups' ECE and NLL side by side.
    const ca = a.analyses?.calibration?.models.soup;
    const cb = b.analyses?.calibration?.models.soup;
    if (ca && cb) {
      const held = shown.calibration.find((r) => r[0] === 'held-out');
      assert.deepEqual(held, ['held-out', formatDecimal(ca.datasets.heldout.ece), formatDecimal(cb.datasets.heldout.ece), formatDecimal(ca.datasets.heldout.nll), formatDecimal(cb.datasets.heldout.nll)]);
    } else {
      assert.deepEqual(shown.calibration, []);
    }
    assert.equal(compareTabs().length, 1);
  });

  it('reuses the one panel for the next pair, and refuses anything but two soups with the panel left as it was', async () => {
    const before = api.comparePanel()?.soupDirs;
    assert.ok(before);
    // One soup selected: nothing opens, the pair stays.
    assert.equal(await vscode.commands.executeCommand('modelSoups.compareSoups', greedyDir, [greedyDir]), undefined);
    // The same soup twice is one soup.
    assert.equal(await vscode.commands.executeCommand('modelSoups.compareSoups', greedyDir, [greedyDir, greedyDir]), undefined);
    assert.deepEqual(api.comparePanel()?.soupDirs, before);

    const rendered = nextRender(api, before);
    await vscode.commands.executeCommand('modelSoups.compareSoups', before[0], [before[0], before[1]]);
    const info = await within(60_000, 'the compare panel to render again', rendered);
    assert.deepEqual(info.soupDirs, before, 'the order follows the cooking time, not the selection order');
    assert.equal(compareTabs().length, 1, 'a second compare panel was opened');
  });

  it('is restored after a window reload from the two soups the webview saved', async () => {
    const pair = api.comparePanel()?.soupDirs;
    assert.ok(pair);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    assert.equal(api.comparePanel(), undefined);
    const pkg = vscode.extensions.getExtension('model-soups.model-soups')?.packageJSON as { activationEvents?: string[] };
    assert.ok(pkg.activationEvents?.includes('onWebviewPanel:modelSoups.compare'), 'VS Code must activate the extension to restore the compare panel');
    const rendered = nextRender(api);
    const bare = vscode.window.createWebviewPanel('modelSoups.compare', 'restored', vscode.ViewColumn.Active, {});
    await api.restoreComparePanel(bare, { soupDirs: pair });
    const info = await within(60_000, 'the restored compare panel to render', rendered);
    assert.deepEqual(info.soupDirs, pair);
    assert.ok((info.rendered?.table.length ?? 0) > 3);
    // A state without two soups closes the panel rather than leaving it empty.
    const stray = vscode.window.createWebviewPanel('modelSoups.compare', 'stray', vscode.ViewColumn.Active, {});
    let disposed = false;
    stray.onDidDispose(() => (disposed = true));
    await api.restoreComparePanel(stray, { soupDirs: [pair[0]] });
    assert.ok(disposed);
  });

  it('from the palette asks for soup A, then soup B among the others, in that order', async () => {
    // A fresh panel: the previous test's restored and stray panels are not this test's subject.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    assert.equal(api.comparePanel(), undefined);
    const ok = api.soups().filter((x) => x.status === 'ok');
    const rendered = nextRender(api, [ok[0].dir, ok[1].dir]);
    const running = vscode.commands.executeCommand('modelSoups.compareSoups');
    // Enter on each step takes the first soup offered: the newest, then the newest of the rest.
    for (let step = 0; step < 2; step++) {
      await sleep(1000);
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    await within(30_000, 'the two picks', Promise.resolve(running));
    const info = await within(60_000, 'the compare panel to render the picked pair', rendered);
    assert.deepEqual(info.soupDirs, [ok[0].dir, ok[1].dir]);
    assert.equal(info.rendered?.table[0][0], 'Dataset');
    assert.equal(compareTabs().length, 1);
  });
});
