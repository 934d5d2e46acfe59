/**
 * The tracker readers on small hand-made runs: which value belongs to the weights, the key
 * order and the configured metric, and every broken file ending as a reason or a warning that
 * names it, never as a throw.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { listRunFolder } from '../../src/engine/discovery/runFolder';
import type { RunFolder } from '../../src/engine/discovery/runFolder';
import { readMlflowRun } from '../../src/engine/trackers/mlflowRun';
import { detectTracker } from '../../src/engine/trackers/readTrackerRun';
import { readTensorBoardRun } from '../../src/engine/trackers/tensorboardRun';
import { TAIL_BYTES } from '../../src/engine/trackers/trackerFiles';
import { readWandbRun, wandbRunId } from '../../src/engine/trackers/wandbRun';
import { findWeightFiles } from '../../src/engine/trackers/weightFiles';
import { encodeEventFile, frameRecord } from '../../scripts/bench/tfeventsWriter';
import type { EventSpec } from '../../scripts/bench/tfeventsWriter';
import { tempDir } from './helpers/paths';

type Tree = Record<string, string | Buffer>;

describe('tracker readers', () => {
  let root: string;
  let k = 0;
  before(async () => {
    root = await tempDir('soups-trackers-');
  });
  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  /** Writes `tree` into a fresh run folder `<n>/<name>` and lists it. */
  async function run(name: string, tree: Tree): Promise<RunFolder> {
    const dir = path.join(root, String(k++), name);
    for (const [rel, content] of Object.entries(tree)) {
      await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fsp.writeFile(path.join(dir, rel), content);
    }
    await fsp.mkdir(dir, { recursive: true });
    const folder = await listRunFolder(root, dir);
    assert.ok(folder);
    return folder;
  }
  const val = (step: number, value: number, tag = 'val_acc'): EventSpec => ({ step, scalars: [{ tag, value }] });
  const EVENTS = 'events.out.tfevents.1700000000.host.1.0';

  describe('TensorBoard (Lightning)', () => {
    const events = encodeEventFile([val(50, 0.5), { step: 60, scalars: [{ tag: 'train_loss', value: 1 }] }, val(100, 0.75), val(150, 0.625)]);

    it('takes the value at the only checkpoint\'s step, and reads hparams.yaml', async () => {
      const folder = await run('tb_logs/exp/version_0', { [EVENTS]: events, 'checkpoints/epoch=1-step=100.ckpt': 'x', 'hparams.yaml': 'lr: 0.1\nmax_epochs: 3\n' });
      assert.equal(detectTracker(folder), 'tensorboard');
      const r = await readTensorBoardRun(folder);
      assert.equal(r.heldout, 0.75);
      assert.deepEqual(r.metricsSource, { file: `${folder.id}/${EVENTS}`, field: 'val_acc', step: 100 });
      assert.deepEqual(r.hparams, { lr: 0.1, epochs: 3 });
      assert.deepEqual(r.weights.map((w) => [path.basename(w.path), w.epoch, w.step]), [['epoch=1-step=100.ckpt', 1, 100]]);
    });

    it('takes the last value logged before a step that has none, and the last value with several checkpoints', async () => {
      const folder = await run('v', { [EVENTS]: events, 'checkpoints/epoch=1-step=120.ckpt': 'x', 'checkpoints/last.ckpt': 'x' });
      assert.deepEqual([(await readTensorBoardRun(folder, { step: 120 })).metricsSource?.step, (await readTensorBoardRun(folder, { step: 120 })).heldout], [100, 0.75]);
      const noStep = await readTensorBoardRun(folder);
      assert.deepEqual([noStep.metricsSource?.step, noStep.heldout], [150, 0.625]);
      const ranked = await readTensorBoardRun(folder, { step: 120 });
      assert.equal(path.basename(ranked.weights[0].path), 'epoch=1-step=120.ckpt', 'the checkpoint at the step comes first');
      const early = await readTensorBoardRun(folder, { step: 10 });
      assert.equal(early.heldout, undefined);
      assert.equal(early.heldoutReason, `${folder.id}: no val_acc logged at or before step 10`);
    });

    it('reads a resumed run\'s event files in order: a later file\'s value replaces an earlier one', async () => {
      const folder = await run('resumed', {
        'events.out.tfevents.1700000000.host.1.0': encodeEventFile([val(100, 0.5)]),
        'events.out.tfevents.1700009999.host.2.0': encodeEventFile([val(100, 0.875)]),
      });
      const r = await readTensorBoardRun(folder, { step: 100 });
      assert.equal(r.heldout, 0.875);
      assert.equal(r.metricsSource?.file, `${folder.id}/events.out.tfevents.1700009999.host.2.0`);
    });

    it('tries the default keys in order and honours a configured metric', async () => {
      const folder = await run('keys', { [EVENTS]: encodeEventFile([{ step: 5, scalars: [{ tag: 'val/accuracy', value: 0.25 }, { tag: 'eval_accuracy', value: 0.5 }, { tag: 'my_acc', value: 0.75 }] }]) });
      assert.equal((await readTensorBoardRun(folder)).metricsSource?.field, 'eval_accuracy');
      assert.equal((await readTensorBoardRun(folder, { metric: 'my_acc' })).heldout, 0.75);
      const missing = await readTensorBoardRun(folder, { metric: 'nope' });
      assert.match(missing.heldoutReason ?? '', new RegExp(`^${folder.id}/${EVENTS}: no scalar nope$`));
    });

    it('keeps scoring past bad records, with a warning that counts them', async () => {
      const good = encodeEventFile([val(100, 0.75)]);
      const bad = frameRecord(Buffer.from('not an event'));
      bad[13] ^= 0xff;
      const folder = await run('bad', { [EVENTS]: Buffer.concat([good, bad]), 'checkpoints/epoch=0-step=100.ckpt': 'x' });
      const r = await readTensorBoardRun(folder);
      assert.equal(r.heldout, 0.75);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0], new RegExp(`^${folder.id}/${EVENTS}: 1 bad record skipped \\(2 read; record at byte \\d+: data checksum mismatch\\)$`));
    });

    it('reports a NaN or out-of-range value, a broken hparams.yaml and a run without checkpoints, naming the files', async () => {
      const folder = await run('nan', { [EVENTS]: encodeEventFile([val(1, Number.NaN), val(2, 87.5, 'val_accuracy')]), 'hparams.yaml': 'lr: [unclosed\n' });
      const r = await readTensorBoardRun(folder);
      assert.match(r.heldoutReason ?? '', new RegExp(`^${folder.id}/${EVENTS}: val_acc \\(step 1\\) is NaN$`));
      assert.match(r.warnings[0], new RegExp(`^${folder.id}/hparams.yaml: not a safe YAML mapping.*hyperparameters not read$`));
      assert.deepEqual(r.weights, []);
      assert.match(r.weightsReason ?? '', new RegExp(`^${folder.id}: no weights file`));
      const pct = await readTensorBoardRun(folder, { metric: 'val_accuracy' });
      assert.match(pct.heldoutReason ?? '', /val_accuracy \(step 2\) is 87\.5, expected a fraction in \[0, 1\]/);
    });
  });

  describe('MLflow file store', () => {
    const meta = (extra = '', stage = 'active'): string => `artifact_uri: file:///elsewhere/artifacts\nexperiment_id: '3'\nlifecycle_stage: ${stage}\nrun_id: abc123\nstatus: 4\n${extra}`;

    it('reads a nested metric key, params as numbers and text, and the run name from the tag', async () => {
      const folder = await run('mlruns/3/abc123', {
        'meta.yaml': meta(),
        'metrics/eval/accuracy': '1 0.5 1\n2 0.625 2\n',
        'params/learning_rate': '0.003',
        'params/optim/name': 'adamw',
        'params/note': 'True',
        'tags/mlflow.runName': 'brave-owl-7\n',
        'artifacts/model/state_dict.pth': 'x',
        'artifacts/optimizer.pt': 'x',
      });
      assert.equal(detectTracker(folder), 'mlflow');
      const r = await readMlflowRun(folder);
      assert.equal(r.runName, 'brave-owl-7');
      assert.deepEqual(r.details, { runId: 'abc123', status: 'FAILED' });
      assert.equal(r.heldout, 0.625);
      assert.deepEqual(r.metricsSource, { file: `${folder.id}/metrics/eval/accuracy`, field: 'eval/accuracy', step: 2 });
      assert.deepEqual(r.hparams, { lr: 0.003, 'optim/name': 'adamw', note: 'True' });
      assert.deepEqual(r.weights.map((w) => [path.relative(folder.dir, w.path), w.format]), [[path.join('artifacts', 'model', 'state_dict.pth'), 'torch']]);
    });

    it('uses the line before a cut last line, with a warning; reads only the tail of a long log', async () => {
      const long = Array.from({ length: 20_000 }, (_, i) => `${1700000000000 + i} ${(i % 100) / 100} ${i}`).join('\n');
      assert.ok(long.length > TAIL_BYTES);
      const folder = await run('cut', { 'meta.yaml': meta(), 'metrics/val_acc': `${long}\n1700000099` });
      const r = await readMlflowRun(folder);
      assert.equal(r.heldout, 0.99);
      assert.equal(r.metricsSource?.step, 19_999);
      assert.match(r.warnings[0], new RegExp(`^${folder.id}/metrics/val_acc: the last line is not`));
    });

    it('explains a missing metric, a NaN, a deleted run and missing weights', async () => {
      const folder = await run('broken', { 'meta.yaml': meta('run_name: x\n', 'deleted'), 'metrics/train_loss': '1 0.5 1\n', 'metrics/val_accuracy': '1 nan 1\n' });
      const r = await readMlflowRun(folder);
      assert.match(r.heldoutReason ?? '', new RegExp(`^${folder.id}/metrics/val_accuracy: val_accuracy \\(last line\\) is NaN$`));
      const none = await readMlflowRun(folder, { metric: 'f1' });
      assert.equal(none.heldoutReason, `${folder.id}/metrics: no metric f1 (metrics: train_loss, val_accuracy)`);
      assert.ok(r.warnings.some((w) => /lifecycle_stage: deleted/.test(w)));
      assert.equal(r.weightsReason, `${folder.id}/artifacts: no weights file (safetensors, .pth/.pt/.bin, .ckpt or .onnx)`);
    });

    it('never leaves the metrics folder for a configured metric with ..', async () => {
      const folder = await run('escape', { 'meta.yaml': meta(), 'metrics/val_acc': '1 0.5 1\n', 'secret': '1 0.9 1\n' });
      const r = await readMlflowRun(folder, { metric: '../secret' });
      assert.equal(r.heldout, undefined);
      assert.match(r.heldoutReason ?? '', /no metric \.\.\/secret/);
    });

    it('keeps going with an unreadable meta.yaml (a warning) and takes the name from the tag', async () => {
      const folder = await run('meta', { 'meta.yaml': 'run_name: [\n', 'metrics/val_acc': '1 0.5 1\n', 'tags/mlflow.runName': 'tagged' });
      const r = await readMlflowRun(folder);
      assert.equal(r.heldout, 0.5);
      assert.equal(r.runName, 'tagged');
      assert.match(r.warnings[0], new RegExp(`^${folder.id}/meta.yaml: not a safe YAML mapping`));
    });
  });

  describe('W&B run folders', () => {
    const config = '_wandb:\n  desc: null\n  value:\n    cli_version: 0.18.7\nwandb_version: 1\nlearning_rate:\n  desc: null\n  value: 0.01\nlayers:\n  desc: null\n  value: [64, 32]\nplain: 3\n';

    it('reads a nested summary key, unwraps config.yaml and ranks the weights', async () => {
      const folder = await run('wandb/offline-run-20240101_101010-ab12cd', {
        'files/wandb-summary.json': '{"eval": {"accuracy": 0.8125}, "_step": 9}',
        'files/config.yaml': config,
        'files/wandb-metadata.json': '{"host": "h", "program": "train.py", "args": ["--x"]}',
        'files/model-00001-of-00002.safetensors': 'x',
        'files/model-00002-of-00002.safetensors': 'x',
        'files/model.safetensors.index.json': '{}',
        'files/checkpoints/model.pt': 'x',
        'files/training_args.bin': 'x',
      });
      assert.equal(detectTracker(folder), 'wandb');
      const r = await readWandbRun(folder);
      assert.equal(r.runName, 'ab12cd');
      assert.equal(r.heldout, 0.8125);
      assert.deepEqual(r.metricsSource, { file: `${folder.id}/files/wandb-summary.json`, field: 'eval/accuracy' });
      assert.deepEqual(r.hparams, { lr: 0.01, layers: [64, 32], plain: 3 });
      assert.deepEqual(r.details, { host: 'h', program: 'train.py' });
      assert.deepEqual(r.weights.map((w) => [path.relative(folder.dir, w.path), w.format]), [
        [path.join('files', 'model.safetensors.index.json'), 'safetensors-index'],
        [path.join('files', 'checkpoints', 'model.pt'), 'torch'],
      ]);
    });

    it('explains a missing summary, a non-number and a broken config, naming the files', async () => {
      const missing = await readWandbRun(await run('wandb/run-20240101_101010-zz', { 'files/config.yaml': 'a: [\n' }));
      assert.match(missing.heldoutReason ?? '', /^\d+\/wandb\/run-20240101_101010-zz\/files\/wandb-summary.json: cannot be read \(ENOENT\)$/);
      assert.equal(missing.runName, 'zz');
      assert.match(missing.warnings[0], /files\/config.yaml: not a safe YAML mapping.*hyperparameters not read$/);
      const text = await readWandbRun(await run('w', { 'files/wandb-summary.json': '{"val_acc": "0.9"}' }));
      assert.match(text.heldoutReason ?? '', /files\/wandb-summary.json: val_acc is a string, expected a number in \[0, 1\]$/);
      const junk = await readWandbRun(await run('w', { 'files/wandb-summary.json': '{"val_acc": SECRET}' }));
      assert.match(junk.heldoutReason ?? '', /files\/wandb-summary.json: not valid JSON$/);
      assert.doesNotMatch(junk.heldoutReason ?? '', /SECRET/, 'reasons never quote the file');
      const nothing = await readWandbRun(await run('w', { 'files/wandb-summary.json': '{"loss": 1}' }));
      assert.match(nothing.heldoutReason ?? '', /files\/wandb-summary.json: no val_acc or val_accuracy or eval_accuracy or eval\/accuracy/);
    });

    it('takes the id from the folder name', () => {
      assert.equal(wandbRunId('run-20261101_093012-k3j9x2aa'), 'k3j9x2aa');
      assert.equal(wandbRunId('offline-run-20261101_093012-k3j9x2aa'), 'k3j9x2aa');
      assert.equal(wandbRunId('latest-run'), undefined);
    });
  });

  it('weights: a symlink that leaves the workspace is not a candidate', async () => {
    const outside = await tempDir('soups-outside-');
    try {
      await fsp.writeFile(path.join(outside, 'model.safetensors'), 'x');
      const folder = await run('linked', { 'files/real.pt': 'x' });
      await fsp.symlink(path.join(outside, 'model.safetensors'), path.join(folder.dir, 'files', 'model.safetensors'));
      await fsp.symlink(path.join(folder.dir, 'files', 'real.pt'), path.join(folder.dir, 'files', 'inside.pth'));
      const found = await findWeightFiles(path.join(folder.dir, 'files'), root);
      assert.deepEqual(found.map((w) => path.basename(w.path)), ['inside.pth', 'real.pt']);
    } finally {
      await fsp.rm(outside, { recursive: true, force: true });
    }
  });
});
