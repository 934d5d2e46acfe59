import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfig } from '../../src/engine/config';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { SetupDriver } from './setupDriver';
import { getApi } from './suite';

describe('Configure Evaluation Data', () => {
  let api: ModelSoupsApi;
  let file: string;
  let before: string;

  beforeEach(async () => {
    api = await getApi();
    file = path.join(api.workspace() ?? '', 'modelsoups.json');
    before = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ exclude: ['expected/**'], datasets: { heldout: 'data/test.npz' } }, null, 2));
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    writeFileSync(file, before);
    await api.refresh();
  });

  it('is one multi-step input: "n/4" steps, Back keeps earlier answers, the test step leaves out the held-out file, an empty tick list needs "No shift sets"', async () => {
    const drive = new SetupDriver(api);
    const done = vscode.commands.executeCommand<vscode.Uri | undefined>('modelSoups.configureEvaluation');
    try {
      let s = await drive.step(1);
      assert.equal(s.pick.totalSteps, 4);
      assert.equal(s.pick.buttons.length, 0, 'the first step has no Back button');
      assert.equal(s.pick.activeItems[0]?.label, 'data/test.npz', 'the configured held-out file is the default');
      await drive.accept(s, ['data/test.npz']);

      s = await drive.step(2);
      assert.ok(s.pick.buttons.includes(vscode.QuickInputButtons.Back));
      assert.ok(!s.pick.items.some((i) => i.label === 'data/test.npz'), 'the test step offers the held-out file again');
      await drive.back();

      s = await drive.step(1);
      assert.equal(s.pick.activeItems[0]?.label, 'data/test.npz', 'Back keeps the earlier answer');
      await drive.accept(s, ['data/heldout_val.npz']);

      s = await drive.step(2);
      assert.ok(!s.pick.items.some((i) => i.label === 'data/heldout_val.npz'));
      await drive.accept(s, ['data/test.npz']);

      s = await drive.step(3);
      assert.equal(s.pick.canSelectMany, true);
      assert.match(s.pick.items[0]?.label ?? '', /No shift sets/);
      assert.ok(!s.pick.items.some((i) => i.label === 'data/test.npz' || i.label === 'data/heldout_val.npz'));
      // Enter on nothing ticked does not go on (and does not write "shifts": {} quietly).
      await drive.accept(s, []);
      assert.equal(await drive.next(1500), undefined, 'an empty tick list moved on');
      assert.match(s.pick.placeholder ?? '', /No shift sets/);
      await drive.accept(s, [s.pick.items[0].label]);

      s = await drive.step(4);
      // None, then the models outside run folders, then the runs' own models.
      const labels = s.pick.items.filter((i) => i.kind !== vscode.QuickPickItemKind.Separator).map((i) => i.label);
      assert.match(labels[0], /None/);
      assert.equal(labels[1], 'pretrained/model.onnx', JSON.stringify(s.pick.items.map((i) => i.label)));
      assert.ok(labels.slice(2).every((l) => l !== 'pretrained/model.onnx'));
      assert.deepEqual(
        s.pick.items.filter((i) => i.kind === vscode.QuickPickItemKind.Separator).map((i) => i.label),
        ['outside run folders', 'inside run folders (a run’s own model)'],
      );
      await drive.accept(s, ['pretrained/model.onnx']);
      assert.ok(await done, 'nothing was written');
    } finally {
      drive.dispose();
    }
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      exclude: ['expected/**'],
      datasets: { heldout: 'data/heldout_val.npz', test: 'data/test.npz', shifts: {} },
      pretrained: 'pretrained/model.onnx',
    });
  });

  it('writes the ticked shift sets, named after their files, into a modelsoups.json the engine accepts', async () => {
    const drive = new SetupDriver(api);
    const done = vscode.commands.executeCommand<vscode.Uri | undefined>('modelSoups.configureEvaluation');
    try {
      await drive.accept(await drive.step(1), ['data/heldout_val.npz']);
      await drive.accept(await drive.step(2), ['$(circle-slash) None']);
      await drive.accept(await drive.step(3), ['data/shift_rotate.npz', 'data/shift_low_contrast.npz']);
      await drive.accept(await drive.step(4), ['$(circle-slash) None']);
      assert.ok(await done);
    } finally {
      drive.dispose();
    }
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(written, { exclude: ['expected/**'], datasets: { heldout: 'data/heldout_val.npz', shifts: { low_contrast: 'data/shift_low_contrast.npz', rotate: 'data/shift_rotate.npz' } } });
    assert.deepEqual(Object.keys(loadConfig(api.workspace() ?? '').datasets.shifts).sort(), ['low_contrast', 'rotate']);
  });
});
