import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfig } from '../../src/engine/config';
import { getApi } from './suite';

type QuickPick = typeof vscode.window.showQuickPick;

describe('Configure Evaluation Data', () => {
  it('writes a modelsoups.json the engine accepts from the choices made in the pickers, keeping other keys', async () => {
    const api = await getApi();
    const ws = api.workspace() ?? '';
    const file = path.join(ws, 'modelsoups.json');
    const before = readFileSync(file, 'utf8');
    const titles: string[] = [];
    // Answer each picker as a user would: held-out, test, two shifts, the pretrained model.
    const answers: ((items: readonly vscode.QuickPickItem[]) => unknown)[] = [
      (items) => items.find((i) => i.label === 'data/heldout_val.npz'),
      (items) => items.find((i) => i.label === 'data/test.npz'),
      (items) => items.filter((i) => i.label === 'data/shift_rotate.npz' || i.label === 'data/shift_low_contrast.npz'),
      (items) => items.find((i) => i.label === 'pretrained/model.onnx'),
    ];
    const original: QuickPick = vscode.window.showQuickPick;
    const fake = (async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>, options?: vscode.QuickPickOptions) => {
      titles.push(options?.title ?? '');
      const list = await items;
      assert.ok(list.every((i) => !i.label.endsWith('.npy')), 'only .npz datasets are offered');
      const answer = answers.shift();
      assert.ok(answer, `unexpected picker "${options?.title}"`);
      return answer(list);
    }) as unknown as QuickPick;
    try {
      writeFileSync(file, JSON.stringify({ exclude: ['expected/**'], datasets: { heldout: 'data/test.npz' } }, null, 2));
      (vscode.window as { showQuickPick: QuickPick }).showQuickPick = fake;
      await vscode.commands.executeCommand('modelSoups.configureEvaluation');
    } finally {
      (vscode.window as { showQuickPick: QuickPick }).showQuickPick = original;
    }
    try {
      assert.equal(titles.length, 4, `pickers shown: ${titles.join(' | ')}`);
      const written = JSON.parse(readFileSync(file, 'utf8'));
      assert.deepEqual(written, {
        exclude: ['expected/**'],
        datasets: { heldout: 'data/heldout_val.npz', test: 'data/test.npz', shifts: { low_contrast: 'data/shift_low_contrast.npz', rotate: 'data/shift_rotate.npz' } },
        pretrained: 'pretrained/model.onnx',
      });
      const config = loadConfig(ws);
      assert.deepEqual(Object.keys(config.datasets.shifts).sort(), ['low_contrast', 'rotate']);
    } finally {
      writeFileSync(file, before);
      await api.refresh();
    }
  });
});
