import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { scanRuns } from '../../src/engine/discovery/scanRuns';
import type { RunRecord } from '../../src/engine/discovery/runRecord';
import { CKPT_INGREDIENTS, CKPT_ZOO } from './helpers/ckptZoo';
import { PickleWriter, f32Bytes, torchZip } from './helpers/torchZipWriter';
import { EXAMPLE, REPO, caseFolders } from './helpers/paths';

const TRACKERS = path.join(REPO, 'test', 'fixtures', 'fashion-trackers');

interface ZooExpected {
  ingredients: { id: string; format: string; heldout_acc_in_metrics: number }[];
  sorted_by_heldout: string[];
  rejected: { id: string }[];
}
const readExpected = (zoo: string): ZooExpected => JSON.parse(readFileSync(path.join(zoo, 'expected.json'), 'utf8')) as ZooExpected;

/** expected.json names the Trainer run by its checkpoint; the project's id is the run folder. */
const runIdOf = (expectedId: string): string => expectedId.replace(/\/checkpoint-\d+$/, '');

/** Held-out order as the workspace scan sorts: best first, ties by id. */
function byHeldout(runs: RunRecord[]): string[] {
  return runs.filter((r) => r.heldout !== undefined)
    .sort((a, b) => (b.heldout ?? 0) - (a.heldout ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => r.id);
}

/**
 * A Lightning `.ckpt` (as torch.save writes it) at `epoch`/`step` whose ModelCheckpoint state
 * monitors `monitor` and names `best` (a path of the training machine) with `score`.
 */
function lightningCkpt(epoch: number, step: number, monitor: string, best: string, score: number): Buffer {
  const storages = [{ key: '0', type: 'FloatStorage', numel: 2, bytes: f32Bytes([1, 2]) }];
  const float = Buffer.alloc(8);
  float.writeDoubleBE(score);
  const pickle = new PickleWriter().emptyDict().mark()
    .str('epoch').int(epoch).str('global_step').int(step)
    .str('state_dict').stateDict([{ name: 'model.w', key: '0', offset: 0, shape: [2], stride: [1] }], storages)
    .str('callbacks').emptyDict().mark().str(`ModelCheckpoint{'monitor': '${monitor}'}`)
    .emptyDict().mark().str('monitor').str(monitor).str('best_model_path').str(`/train/run/checkpoints/${best}`)
    .str('best_model_score').raw(0x47, float).setItems()
    .setItems()
    .setItems()
    .bytes();
  return torchZip(pickle, storages);
}

const rel = (root: string, abs: string | undefined): string | undefined => (abs === undefined ? undefined : path.relative(root, abs).split(path.sep).join('/'));

describe('run discovery of checkpoint and tracker workspaces', () => {
  describe('fashion-ckpt (checkpoints as training writes them)', () => {
    const want = readExpected(CKPT_ZOO);
    let runs: RunRecord[];
    before(async () => {
      runs = await scanRuns(CKPT_ZOO, { exclude: ['expected/**'] });
    });
    const run = (id: string): RunRecord => {
      const found = runs.find((r) => r.id === id);
      assert.ok(found, `${id} is listed`);
      return found;
    };

    it('lists the 12 ingredients and sweep-x13 (plus pretrained/, set apart by the caller)', () => {
      const ids = [...want.ingredients.map((i) => runIdOf(i.id)), ...want.rejected.map((r) => r.id), 'pretrained'].sort();
      assert.deepEqual(runs.map((r) => r.id), ids);
    });

    it('reads each ingredient from its weights file, in its format, with the held-out accuracy of expected.json', () => {
      for (const ing of want.ingredients) {
        const r = run(runIdOf(ing.id));
        const file = CKPT_INGREDIENTS[ing.id].file;
        assert.equal(r.status, 'ok', `${r.id}: ${r.reason}`);
        assert.equal(rel(CKPT_ZOO, r.weights?.file), file, `${r.id} weights file`);
        assert.equal(r.modelPath, r.weights?.file);
        const format = file.endsWith('.index.json') ? 'safetensors-sharded' : file.endsWith('.safetensors') ? 'safetensors' : 'torch';
        assert.equal(r.weights?.format, format, `${r.id} format`);
        assert.equal(r.heldout, ing.heldout_acc_in_metrics, `${r.id} held-out`);
        assert.equal(r.layout, r.id.startsWith('runs/') ? 'hf' : r.id.startsWith('lightning_logs/') ? 'lightning' : 'plain', `${r.id} layout`);
        assert.ok(r.files.includes(r.modelPath), `${r.id} files name the weights`);
      }
    });

    it('scores lightning_logs/version_0 with ModelCheckpoint best_model_score, not the last metrics.csv row', async () => {
      const r = run('lightning_logs/version_0');
      assert.equal(r.heldout, 0.8775);
      assert.deepEqual(r.metricsSource, { file: 'lightning_logs/version_0/checkpoints/last.ckpt', field: 'val_acc' });
      const csv = await fsp.readFile(path.join(CKPT_ZOO, 'lightning_logs/version_0/metrics.csv'), 'utf8');
      const lastRow = csv.trim().split('\n').at(-1)?.split(',') ?? [];
      assert.notEqual(Number(lastRow[3]), r.heldout, 'the last row belongs to last.ckpt');
    });

    it('takes runs/ft-07 from checkpoint-141 (best_model_checkpoint, an absolute path of another machine)', () => {
      const r = run('runs/ft-07');
      assert.equal(r.checkpoint, 'checkpoint-141');
      assert.equal(r.metricsSource?.file, 'runs/ft-07/checkpoint-141/trainer_state.json');
    });

    it('scores the weights-only version_1 from metrics.csv at its step, and version_2 despite its pickled user class', () => {
      assert.deepEqual(run('lightning_logs/version_1').metricsSource, { file: 'lightning_logs/version_1/metrics.csv', field: 'val_acc' });
      assert.equal(run('lightning_logs/version_2').metricsSource?.file, 'lightning_logs/version_2/checkpoints/last.ckpt');
    });

    it('lists sweep-x13 as a plain torch run (its pickle is refused when the weights are read, not by the walk)', () => {
      const r = run('sweep-x13');
      assert.equal(r.layout, 'plain');
      assert.equal(r.weights?.format, 'torch');
    });

    it('orders the ingredients by held-out accuracy as expected.json does', () => {
      const scored = runs.filter((r) => r.id !== 'sweep-x13');
      assert.deepEqual(byHeldout(scored), want.sorted_by_heldout.map(runIdOf));
    });
  });

  describe('fashion-trackers (TensorBoard, MLflow, W&B)', () => {
    const want = readExpected(TRACKERS);
    let runs: RunRecord[];
    before(async () => {
      runs = await scanRuns(TRACKERS, { exclude: ['expected/**'] });
    });

    it('lists the 12 runs (plus pretrained/) with layout, weights, run name and held-out accuracy', async () => {
      assert.deepEqual(runs.map((r) => r.id), [...want.ingredients.map((i) => i.id), 'pretrained'].sort());
      for (const ing of want.ingredients) {
        const r = runs.find((x) => x.id === ing.id);
        assert.ok(r);
        assert.equal(r.status, 'ok', `${r.id}: ${r.reason}`);
        assert.equal(r.heldout, ing.heldout_acc_in_metrics, `${r.id} held-out`);
        assert.equal(r.layout, ing.format === 'lightning-tfevents' ? 'lightning' : ing.format, `${r.id} layout`);
        assert.ok(r.weights && r.modelPath === r.weights.file, `${r.id} has checkpoint weights`);
        if (r.layout === 'mlflow') {
          const meta = await fsp.readFile(path.join(r.dir, 'meta.yaml'), 'utf8');
          assert.equal(r.runName, /^run_name: (.+)$/m.exec(meta)?.[1], `${r.id} run name`);
          assert.match(r.metricsSource?.file ?? '', /\/metrics\/val_accuracy$/);
          assert.ok(Object.keys(r.hparams).length > 0, `${r.id} params`);
        } else if (r.layout === 'wandb') {
          assert.equal(r.runName, path.basename(r.id).split('-').at(-1));
          assert.equal(r.metricsSource?.field, 'eval/accuracy');
          assert.ok(Object.keys(r.hparams).length > 0, `${r.id} config`);
        } else {
          assert.equal(r.runName, undefined);
          assert.match(r.metricsSource?.file ?? '', /\/events\.out\.tfevents\./);
          assert.match(rel(TRACKERS, r.modelPath) ?? '', /\/checkpoints\/epoch=\d+-step=\d+\.ckpt$/);
        }
      }
    });

    it('orders the runs by held-out accuracy as expected.json does', () => {
      assert.deepEqual(byHeldout(runs), want.sorted_by_heldout);
    });
  });

  describe('layouts built from the fixtures', () => {
    const { fresh } = caseFolders('soup-run-discovery-');
    const copy = async (from: string, to: string): Promise<void> => fsp.cp(from, to, { recursive: true });

    it('lists a W&B run once when latest-run links to it', async function () {
      if (process.platform === 'win32') this.skip();
      const root = await fresh();
      const name = 'run-20261101_093012-k3j9x2aa';
      await copy(path.join(TRACKERS, 'wandb', name), path.join(root, 'wandb', name));
      await fsp.symlink(name, path.join(root, 'wandb', 'latest-run'), 'dir');
      const found = await scanRuns(root, {});
      assert.deepEqual(found.map((r) => [r.id, r.runName, r.status]), [[`wandb/${name}`, 'k3j9x2aa', 'ok']]);
    });

    it('lists tracker runs without weights as unreadable, naming the folder searched', async () => {
      const root = await fresh();
      const wandb = 'wandb/run-20261101_093012-k3j9x2aa';
      await copy(path.join(TRACKERS, wandb), path.join(root, wandb));
      await fsp.rm(path.join(root, wandb, 'files', 'model.safetensors'));
      const mlflow = 'mlruns/1/0a6b5c6f0e2d4e4bb1f0b7e0c1d2a300';
      await copy(path.join(TRACKERS, mlflow), path.join(root, mlflow));
      await fsp.rm(path.join(root, mlflow, 'artifacts'), { recursive: true });
      await fsp.mkdir(path.join(root, mlflow, 'artifacts'));
      const found = await scanRuns(root, {});
      assert.deepEqual(found.map((r) => [r.id, r.status, r.heldout]), [[mlflow, 'unreadable', undefined], [wandb, 'unreadable', undefined]]);
      assert.match(found[0].reason ?? '', new RegExp(`^${mlflow}/artifacts: no weights file`));
      assert.match(found[1].reason ?? '', new RegExp(`^${wandb}/files: no weights file`));
    });

    it('recognises a Lightning run by its content in any folder (tb_logs/<name>/version_N)', async () => {
      const root = await fresh();
      await copy(path.join(TRACKERS, 'lightning_logs/version_0'), path.join(root, 'tb_logs/cnn/version_0'));
      const [r] = await scanRuns(root, {});
      assert.deepEqual([r.id, r.layout, r.heldout, r.metricsSource?.field], ['tb_logs/cnn/version_0', 'lightning', 0.8775, 'val_acc']);
    });

    it('lists a Lightning run with no .ckpt, or with a checkpoint that calls os.system, as unreadable', async () => {
      const root = await fresh();
      await fsp.mkdir(path.join(root, 'logs/empty/checkpoints'), { recursive: true });
      await fsp.copyFile(path.join(CKPT_ZOO, 'lightning_logs/version_1/hparams.yaml'), path.join(root, 'logs/empty/hparams.yaml'));
      await fsp.mkdir(path.join(root, 'logs/evil/checkpoints'), { recursive: true });
      await fsp.copyFile(path.join(CKPT_ZOO, 'lightning_logs/version_1/metrics.csv'), path.join(root, 'logs/evil/metrics.csv'));
      await fsp.copyFile(path.join(CKPT_ZOO, 'sweep-x13/model.pt'), path.join(root, 'logs/evil/checkpoints/epoch=4-step=469.ckpt'));
      const found = await scanRuns(root, {});
      assert.deepEqual(found.map((r) => [r.id, r.layout, r.status]), [['logs/empty', 'lightning', 'unreadable'], ['logs/evil', 'lightning', 'unreadable']]);
      assert.equal(found[0].reason, 'logs/empty/checkpoints: no .ckpt file');
      assert.match(found[1].reason ?? '', /^logs\/evil\/checkpoints\/epoch=4-step=469\.ckpt: .*os\.system/);
    });

    it('scores the best checkpoint from metrics.csv at its step when ModelCheckpoint monitors a loss', async () => {
      const root = await fresh();
      await fsp.mkdir(path.join(root, 'v0/checkpoints'), { recursive: true });
      await fsp.writeFile(path.join(root, 'v0/metrics.csv'), 'epoch,step,val_acc,val_loss\n0,10,0.61,0.3\n1,20,0.7,0.4\n2,30,0.5,0.9\n');
      await fsp.writeFile(path.join(root, 'v0/checkpoints/epoch=0-step=10.ckpt'), lightningCkpt(0, 10, 'val_loss', 'epoch=0-step=10.ckpt', 0.3));
      await fsp.writeFile(path.join(root, 'v0/checkpoints/epoch=1-step=20.ckpt'), lightningCkpt(1, 20, 'val_loss', 'epoch=0-step=10.ckpt', 0.3));
      const [r] = await scanRuns(root, {});
      assert.equal(r.modelPath, path.join(root, 'v0/checkpoints/epoch=0-step=10.ckpt'));
      assert.deepEqual([r.heldout, r.metricsSource], [0.61, { file: 'v0/metrics.csv', field: 'val_acc' }]);
      // The latest state decides: here it names the later file as the best.
      await fsp.writeFile(path.join(root, 'v0/checkpoints/last.ckpt'), lightningCkpt(2, 30, 'val_acc', 'epoch=1-step=20.ckpt', 0.7));
      const [again] = await scanRuns(root, {});
      assert.equal(again.modelPath, path.join(root, 'v0/checkpoints/epoch=1-step=20.ckpt'));
      assert.deepEqual([again.heldout, again.metricsSource], [0.7, { file: 'v0/checkpoints/last.ckpt', field: 'val_acc' }]);
    });

    it('keeps a top-level model.onnx ahead of a best checkpoint that holds only weights', async () => {
      const root = await fresh();
      await copy(path.join(EXAMPLE, 'runs/ft-00'), path.join(root, 'run'));
      await fsp.writeFile(path.join(root, 'run/trainer_state.json'), JSON.stringify({ best_model_checkpoint: '/x/run/checkpoint-9', best_metric: 0.5 }));
      await fsp.mkdir(path.join(root, 'run/checkpoint-9'));
      await fsp.copyFile(path.join(CKPT_ZOO, 'runs/ft-00/model.safetensors'), path.join(root, 'run/checkpoint-9/model.safetensors'));
      const [r] = await scanRuns(root, {});
      assert.equal(r.modelPath, path.join(root, 'run/model.onnx'));
      assert.equal(r.weights, undefined);
      assert.equal(r.checkpoint, undefined);
      await fsp.rm(path.join(root, 'run/model.onnx'));
      const [again] = await scanRuns(root, {});
      assert.deepEqual([again.checkpoint, again.weights?.format, again.heldout], ['checkpoint-9', 'safetensors', 0.5]);
    });

    it('reads the configured metric from a plain run\'s metrics.json', async () => {
      const root = await fresh();
      await fsp.mkdir(path.join(root, 'p'));
      await fsp.copyFile(path.join(CKPT_ZOO, 'sweep-c09/model.safetensors'), path.join(root, 'p/model.safetensors'));
      await fsp.writeFile(path.join(root, 'p/metrics.json'), '{"val_accuracy": 0.5, "val_f1": 0.75}');
      const [byDefault] = await scanRuns(root, {});
      assert.deepEqual(byDefault.metricsSource, { file: 'p/metrics.json', field: 'val_accuracy' });
      const [configured] = await scanRuns(root, { metric: 'val_f1' });
      assert.equal(configured.heldout, 0.75);
    });
  });
});
