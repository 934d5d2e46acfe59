import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { WorkspaceScan } from '../../src/engine/discovery/scanResult';
import type { SoupReport } from '../../src/engine/report';
import { expected } from './helpers/expected';
import { EXAMPLE, REPO, tempDir } from './helpers/paths';
import { runCli } from './helpers/runCli';

const run = (args: string[]) => runCli(args);

describe('model-soup CLI', function () {
  this.timeout(300_000);
  before(function () {
    if (!existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  });

  it('scan --json lists the twelve runs best first and sets the pretrained model apart', () => {
    const r = run(['scan', EXAMPLE, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const scan = JSON.parse(r.stdout) as WorkspaceScan;
    assert.deepEqual(
      scan.runs.map((x) => x.id),
      expected.sorted_by_heldout,
    );
    assert.equal(scan.pretrained?.id, 'pretrained/model.onnx');
  });

  it('scan prints a table with accuracy and metric source', () => {
    const r = run(['scan', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1\s+lightning_logs\/version_0\s+lightning\s+onnx\s+87\.75 %\s+ok\s+lightning_logs\/version_0\/metrics\.csv \(val_acc\)/);
    // The pretrained model gets a line of its own (a real line break, not an escaped one).
    assert.match(r.stdout, /\n\npretrained \(not an ingredient\): pretrained\/model\.onnx\n$/);
  });

  it('cook --json prints the report, writes the soup and shows progress on stderr', async () => {
    const out = await tempDir();
    const r = run(['cook', EXAMPLE, '--method', 'greedy', '--out', out, '--name', 'g', '--json', '--analyses', 'calibration']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SoupReport;
    assert.deepEqual(report.soup.members, expected.greedy_soup.members);
    assert.match(r.stderr, /greedy: 6\/12 runs\/ft-08 — held-out 88\.6 %, rejected/);
    assert.ok(existsSync(path.join(out, 'g', 'soup.onnx')));
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('cook prints the results table with the soup, baselines and greedy steps', async () => {
    const out = await tempDir();
    const r = run(['cook', EXAMPLE, '--method', 'uniform', '--out', out, '--ingredients', 'runs/ft-07,sweep-c09', '--analyses', 'calibration']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /uniform soup \(2\) \*/);
    assert.match(r.stdout, /logit ensemble \(2\).*2×/);
    assert.match(r.stdout, /Soup members \(2\): runs\/ft-07, sweep-c09/);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('lets flags override each config key, validated like the file', async () => {
    const out = await tempDir();
    const r = run(['cook', EXAMPLE, '--method', 'uniform', '--out', out, '--json', '--include', 'runs/**', '--heldout', 'data/test.npz', '--test', 'data/heldout_val.npz', '--shift', 'blur=data/shift_gaussian_blur.npz', '--batch-size', '700', '--analyses', 'calibration']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SoupReport;
    assert.deepEqual([...report.soup.members].sort(), ['runs/ft-00', 'runs/ft-07', 'runs/ft-08', 'runs/ft-10', 'runs/ft-11']);
    assert.deepEqual(Object.keys(report.datasets), ['heldout', 'test', 'blur']);
    assert.equal(report.datasets.heldout.path, 'data/test.npz');
    assert.equal(report.options.batchSize, 700);
    const ft07 = report.ingredients.find((i) => i.id === 'runs/ft-07');
    assert.equal(ft07?.metrics?.correct.blur, expected.ingredients.find((i) => i.id === 'runs/ft-07')?.correct.gaussian_blur);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('exits 2 with the usage on bad usage', () => {
    for (const args of [['cook', '--method'], ['cook', '--frobnicate'], ['bake'], ['cook', EXAMPLE, '--method', 'ties'], ['cook', EXAMPLE, '--comparison', '='], ['cook', EXAMPLE, '--batch-size', '0'], ['scan', EXAMPLE, '--shift', 'nofile'], ['cook', EXAMPLE, '--device', 'tpu']]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Usage:/);
    }
  });

  it('exits 1 with one clear message on errors', async () => {
    const ws = await tempDir();
    await fsp.writeFile(path.join(ws, 'modelsoups.json'), '{"datasets": {"heldout": 5}}');
    const r = run(['cook', ws]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('model-soup: error:')).length, 1);
    assert.match(r.stderr, /modelsoups\.json: "datasets\.heldout" must be an \.npz file path or \{"x": "<x>\.npy", "y": "<y>\.npy"\}, got 5/);
    await fsp.rm(ws, { recursive: true, force: true });
  });
});
