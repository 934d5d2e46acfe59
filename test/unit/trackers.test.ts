/**
 * The experiment-tracker readers on the fashion-trackers fixture (the fashion-soup runs as
 * TensorBoard, MLflow and W&B leave them): every run's held-out accuracy, name, hyperparameters
 * and weights, checked against the fixture's expected.json and the source zoo's hyperparameters.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_HELDOUT_KEYS } from '../../src/engine/discovery/heldoutKeys';
import { listRunFolder } from '../../src/engine/discovery/runFolder';
import type { RunFolder } from '../../src/engine/discovery/runFolder';
import type { HParamValue } from '../../src/engine/discovery/runRecord';
import { readEventScalars } from '../../src/engine/formats/tfevents';
import { detectTracker, readTrackerRun } from '../../src/engine/trackers/readTrackerRun';
import { parseCheckpointName } from '../../src/engine/trackers/tensorboardRun';
import type { TrackerKind, TrackerRun } from '../../src/engine/trackers/trackerRun';
import { EXPECTED_FILE, REPO } from './helpers/paths';

const ROOT = path.join(REPO, 'test', 'fixtures', 'fashion-trackers');

interface TrackerExpected {
  ingredients: { id: string; source: string; format: string; heldout_acc_in_metrics: number }[];
  sorted_by_heldout: string[];
  notes: string[];
}
const expected = JSON.parse(readFileSync(path.join(ROOT, 'expected.json'), 'utf8')) as TrackerExpected;
// The source zoo's hyperparameters, keyed by its run ids (the trackers fixture's `source`).
const sourceHparams = new Map(
  (JSON.parse(readFileSync(EXPECTED_FILE, 'utf8')) as { ingredients: { id: string; hparams: Record<string, HParamValue> }[] }).ingredients.map((i) => [i.id, i.hparams]),
);
const KIND: Record<string, TrackerKind> = { 'lightning-tfevents': 'tensorboard', mlflow: 'mlflow', wandb: 'wandb' };

async function folderOf(id: string): Promise<RunFolder> {
  const folder = await listRunFolder(ROOT, path.join(ROOT, id));
  assert.ok(folder, `${id} is listed`);
  return folder;
}

/** The step the fixture's notes give for a TensorBoard run ("<id>: val_acc only in ... (step 140)"). */
function noteStep(id: string): number {
  const note = expected.notes.find((n) => n.startsWith(`${id}:`));
  const m = note && /\(step (\d+)\)/.exec(note);
  assert.ok(m, `a note gives the step of ${id}`);
  return Number(m[1]);
}

/** Strings compared case-insensitively (hparams.yaml says `AdamW`, the source zoo's table `adamw`). */
function sameValue(a: HParamValue | undefined, b: HParamValue): boolean {
  return typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

describe('tracker runs: the fashion-trackers fixture', () => {
  const runs = new Map<string, TrackerRun>();
  before(async () => {
    for (const ing of expected.ingredients) {
      const run = await readTrackerRun(await folderOf(ing.id));
      assert.ok(run, `${ing.id} is a tracker run`);
      runs.set(ing.id, run);
    }
  });

  it('recognises each of the 12 runs as the tracker that wrote it', async () => {
    assert.equal(runs.size, 12);
    for (const ing of expected.ingredients) {
      assert.equal(detectTracker(await folderOf(ing.id)), KIND[ing.format], ing.id);
      assert.equal(runs.get(ing.id)?.kind, KIND[ing.format], ing.id);
      assert.equal(runs.get(ing.id)?.id, ing.id);
    }
    assert.equal(detectTracker(await folderOf('mlruns/1')), undefined, 'the experiment folder is not a run');
    assert.equal(detectTracker(await folderOf('pretrained')), undefined);
  });

  it('reads every held-out accuracy that expected.json gives, without warnings', () => {
    for (const ing of expected.ingredients) {
      const run = runs.get(ing.id) as TrackerRun;
      assert.equal(run.heldout, ing.heldout_acc_in_metrics, `${ing.id}: ${run.heldoutReason ?? ''}`);
      assert.equal(run.heldoutReason, undefined);
      assert.deepEqual(run.warnings, [], ing.id);
    }
  });

  it('ranks the runs in expected.json\'s held-out order', () => {
    const order = [...runs.values()].sort((a, b) => (b.heldout as number) - (a.heldout as number) || (a.id < b.id ? -1 : 1)).map((r) => r.id);
    assert.deepEqual(order, expected.sorted_by_heldout);
  });

  it('takes the TensorBoard val_acc at the checkpoint\'s step, named in the source', () => {
    for (const ing of expected.ingredients.filter((i) => i.format === 'lightning-tfevents')) {
      const run = runs.get(ing.id) as TrackerRun;
      const step = noteStep(ing.id);
      assert.equal(run.metricsSource?.field, 'val_acc');
      assert.equal(run.metricsSource?.step, step, ing.id);
      assert.match(run.metricsSource?.file ?? '', new RegExp(`^${ing.id}/events\\.out\\.tfevents\\.`));
      assert.equal(run.weights.length, 1);
      assert.equal(run.weights[0].format, 'lightning-ckpt');
      assert.equal(run.weights[0].step, step);
      assert.equal(path.relative(ROOT, run.weights[0].path), `${ing.id}/checkpoints/${path.basename(run.weights[0].path)}`);
    }
  });

  it('takes the last line of the MLflow metric and the W&B summary value', () => {
    for (const ing of expected.ingredients) {
      const run = runs.get(ing.id) as TrackerRun;
      if (ing.format === 'mlflow') {
        assert.deepEqual(run.metricsSource, { file: `${ing.id}/metrics/val_accuracy`, field: 'val_accuracy', step: 2 });
      } else if (ing.format === 'wandb') {
        assert.deepEqual(run.metricsSource, { file: `${ing.id}/files/wandb-summary.json`, field: 'eval/accuracy' });
      }
    }
  });

  it('names MLflow runs by their run name and W&B runs by their run id', () => {
    for (const ing of expected.ingredients) {
      const run = runs.get(ing.id) as TrackerRun;
      if (ing.format === 'mlflow') {
        assert.equal(run.runName, path.basename(ing.source));
        assert.equal(run.details.runId, path.basename(ing.id));
        assert.equal(run.details.experiment, 'fashion-finetune');
        assert.equal(run.details.status, 'FINISHED');
      } else if (ing.format === 'wandb') {
        assert.equal(run.runName, ing.id.split('-').at(-1));
        assert.equal(run.details.host, 'gpu-node-3');
      } else {
        assert.equal(run.runName, undefined);
      }
    }
  });

  it('reads the hyperparameters the source runs were trained with', () => {
    for (const ing of expected.ingredients) {
      const want = sourceHparams.get(ing.source);
      assert.ok(want, `the source zoo has ${ing.source}`);
      const got = (runs.get(ing.id) as TrackerRun).hparams;
      for (const [key, value] of Object.entries(want)) assert.ok(sameValue(got[key], value), `${ing.id}: ${key} = ${JSON.stringify(got[key])}, source ${JSON.stringify(value)}`);
      assert.equal(got._wandb, undefined, 'W&B bookkeeping is not a hyperparameter');
    }
  });

  it('finds each run\'s weights where its tracker keeps them', async () => {
    for (const ing of expected.ingredients) {
      const run = runs.get(ing.id) as TrackerRun;
      assert.equal(run.weights.length, 1, ing.id);
      assert.equal(run.weightsReason, undefined);
      const rel = path.relative(path.join(ROOT, ing.id), run.weights[0].path).split(path.sep).join('/');
      if (ing.format === 'mlflow') assert.ok(['artifacts/model/state_dict.pth', 'artifacts/model.safetensors'].includes(rel), rel);
      if (ing.format === 'wandb') assert.equal(rel, 'files/model.safetensors');
      assert.equal(run.weights[0].format, rel.endsWith('.pth') ? 'torch' : rel.endsWith('.ckpt') ? 'lightning-ckpt' : 'safetensors');
      assert.ok((await fsp.stat(run.weights[0].path)).isFile());
    }
  });

  it('reads every record of the fixture\'s event files with valid checksums', async () => {
    for (const ing of expected.ingredients.filter((i) => i.format === 'lightning-tfevents')) {
      const folder = await folderOf(ing.id);
      const file = [...folder.files].find((f) => f.startsWith('events.out.tfevents.')) as string;
      const read = await readEventScalars(path.join(folder.dir, file));
      assert.equal(read.skipped, 0);
      assert.ok(read.records > 1);
      // The fixture's README: val_acc, val_loss, epoch and train_loss scalars.
      for (const t of read.series.keys()) assert.ok(['epoch', 'train_loss', 'val_acc', 'val_loss'].includes(t), t);
      assert.ok(read.series.get('val_acc')?.some((p) => p.step === noteStep(ing.id)), ing.id);
    }
  });

  it('tries the default held-out keys in the documented order', () => {
    assert.deepEqual([...DEFAULT_HELDOUT_KEYS], ['val_acc', 'val_accuracy', 'eval_accuracy', 'eval/accuracy', 'val/acc', 'val/accuracy', 'validation/accuracy']);
  });

  it('parses Lightning checkpoint names', () => {
    assert.deepEqual(parseCheckpointName('epoch=2-step=140.ckpt'), { epoch: 2, step: 140 });
    assert.deepEqual(parseCheckpointName('epoch=12-step=1127-v1.ckpt'), { epoch: 12, step: 1127 });
    assert.deepEqual(parseCheckpointName('epoch=3-step=400-val_acc=0.88.ckpt'), { epoch: 3, step: 400 });
    assert.deepEqual(parseCheckpointName('last.ckpt'), {});
    assert.deepEqual(parseCheckpointName('substep=5.ckpt'), {});
  });
});
