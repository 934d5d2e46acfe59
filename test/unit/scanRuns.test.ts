import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { SoupError } from '../../src/engine/errors';
import { scanRuns } from '../../src/engine/discovery/scanRuns';

const REPO = path.resolve(__dirname, '../../..');
const ZOO = path.join(REPO, 'examples/fashion-soup');
const REAL_MODEL = path.join(ZOO, 'sweep-a02/model.onnx');

interface ExpectedIngredient {
  id: string;
  layout: string;
  metrics_file: string;
  files: string[];
  heldout_acc_in_metrics: number;
  hparams: Record<string, string | number>;
}
const expected = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/fashion-soup/expected.json'), 'utf8')) as {
  ingredients: ExpectedIngredient[];
};

/** Hyperparameters every layout of the zoo states under these (normalised) names. */
const CORE_HPARAMS = ['lr', 'weight_decay', 'epochs', 'batch_size', 'label_smoothing', 'augmentation', 'seed'];

describe('scanRuns', () => {
  describe('on examples/fashion-soup', () => {
    it('finds exactly the 12 ingredients plus pretrained/, sorted by id, with layout, metrics and hparams', async () => {
      const config = loadConfig(ZOO);
      const runs = await scanRuns(ZOO, { include: config.include, exclude: config.exclude, outputDir: config.output, metric: config.metric });
      const ids = expected.ingredients.map((i) => i.id);
      assert.deepEqual(runs.map((r) => r.id), [...ids, 'pretrained'].sort());

      for (const want of expected.ingredients) {
        const run = runs.find((r) => r.id === want.id);
        assert.ok(run, want.id);
        assert.equal(run.layout, want.layout, `${want.id} layout`);
        assert.equal(run.status, 'ok', `${want.id}: ${run.reason}`);
        assert.equal(run.heldout, want.heldout_acc_in_metrics, `${want.id} heldout`);
        assert.equal(run.metricsSource?.file, want.metrics_file, `${want.id} metrics file`);
        assert.equal(run.dir, path.join(ZOO, want.id));
        assert.equal(run.modelPath, path.join(ZOO, want.id, 'model.onnx'));
        assert.deepEqual(run.files.map((f) => path.relative(run.dir, f)).sort(), [...want.files].sort(), `${want.id} files`);
        for (const key of CORE_HPARAMS) assert.equal(run.hparams[key], want.hparams[key], `${want.id} hparam ${key}`);
        // Scheduler and warm-up are recorded wherever the run's files state them (not in ft-07's config.json).
        for (const key of ['lr_scheduler', 'warmup_steps']) {
          if (key in run.hparams) assert.equal(run.hparams[key], want.hparams[key], `${want.id} hparam ${key}`);
        }
        if (want.id !== 'runs/ft-07') assert.equal(run.hparams.warmup_steps, want.hparams.warmup_steps);
      }
    });

    it('reports pretrained/ as a plain unscored run, for the caller to set apart', async () => {
      const runs = await scanRuns(ZOO, {});
      const pretrained = runs.find((r) => r.id === 'pretrained');
      assert.ok(pretrained);
      assert.equal(pretrained.layout, 'plain');
      assert.equal(pretrained.status, 'unscored');
      assert.equal(pretrained.reason, 'pretrained: no metrics file');
      assert.equal(pretrained.modelPath, path.resolve(ZOO, loadConfig(ZOO).pretrained ?? ''));
    });

    it('keeps only runs matching include and skips folders matching exclude', async () => {
      const runs = await scanRuns(ZOO, { include: ['runs/*', 'sweep-*'], exclude: ['runs/ft-1*', 'data/**'] });
      assert.deepEqual(runs.map((r) => r.id), ['runs/ft-00', 'runs/ft-07', 'runs/ft-08', 'sweep-a02', 'sweep-b05', 'sweep-c09']);
    });

    it('leaves out a run whose model file matches an exclude glob (e.g. the pretrained model)', async () => {
      const runs = await scanRuns(ZOO, { exclude: ['pretrained/model.onnx'] });
      assert.deepEqual(runs.map((r) => r.id).sort(), expected.ingredients.map((i) => i.id).sort());
    });

    it('reports progress and stops past maxFiles', async () => {
      const seen: number[] = [];
      await scanRuns(ZOO, { onProgress: (n) => seen.push(n) });
      assert.ok(seen.length > 10);
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
      await assert.rejects(scanRuns(ZOO, { maxFiles: 5 }), (err: unknown) => err instanceof SoupError && err.code === 'READ_FAILED' && /stopped after 5 files/.test(err.message));
    });
  });

  describe('on synthetic workspaces', () => {
    let tmp: string;
    beforeEach(async () => {
      tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-scan-'));
    });
    afterEach(async () => {
      await fsp.rm(tmp, { recursive: true, force: true });
    });

    async function model(rel: string): Promise<void> {
      await fsp.mkdir(path.join(tmp, path.dirname(rel)), { recursive: true });
      await fsp.copyFile(REAL_MODEL, path.join(tmp, rel));
    }
    async function write(rel: string, text: string): Promise<void> {
      await fsp.mkdir(path.join(tmp, path.dirname(rel)), { recursive: true });
      await fsp.writeFile(path.join(tmp, rel), text);
    }

    it('lists an HF run once, at the checkpoint named by best_model_checkpoint', async () => {
      await write('out/run/trainer_state.json', JSON.stringify({ best_model_checkpoint: '/cluster/job/out/run/checkpoint-4' }));
      for (const step of [2, 4, 6]) {
        await model(`out/run/checkpoint-${step}/model.onnx`);
        await write(`out/run/checkpoint-${step}/trainer_state.json`, JSON.stringify({ log_history: [{ step, eval_accuracy: step / 10 }] }));
      }
      const runs = await scanRuns(tmp, {});
      assert.deepEqual(runs.map((r) => [r.id, r.checkpoint, r.heldout]), [['out/run', 'checkpoint-4', 0.4]]);
    });

    it('lists an HF run without best_model_checkpoint at its top-level model', async () => {
      await model('run/model.onnx');
      await write('run/all_results.json', '{"eval_accuracy": 0.5}');
      await model('run/checkpoint-1/model.onnx');
      const runs = await scanRuns(tmp, {});
      assert.equal(runs.length, 1);
      assert.equal(runs[0].modelPath, path.join(tmp, 'run/model.onnx'));
      assert.equal(runs[0].checkpoint, undefined);
    });

    it('reports broken runs without stopping the scan', async () => {
      await model('a/model.onnx');
      await write('a/metrics.json', '{"val_accuracy": NaN}');
      await model('b/model.onnx');
      await write('b/metrics.json', '{oops');
      await model('c/model.onnx');
      await model('d/model.onnx');
      await write('d/metrics.json', '{"val_accuracy": 0.25}');
      const runs = await scanRuns(tmp, {});
      assert.deepEqual(runs.map((r) => [r.id, r.status]), [['a', 'unscored'], ['b', 'unscored'], ['c', 'unscored'], ['d', 'ok']]);
      assert.equal(runs[0].reason, 'a/metrics.json: val_accuracy is NaN');
      assert.match(runs[1].reason ?? '', /^b\/metrics\.json: not valid JSON/);
      assert.equal(runs[2].reason, 'c: no metrics file');
    });

    it('skips hidden folders, node_modules, the output folder and excluded folders', async () => {
      for (const dir of ['.hidden/r', 'node_modules/pkg', '.soups/s', 'soups-out/s', 'expected', 'kept']) await model(`${dir}/model.onnx`);
      const runs = await scanRuns(tmp, { outputDir: 'soups-out/', exclude: ['expected/**'] });
      assert.deepEqual(runs.map((r) => r.id), ['kept']);
    });

    it('does not look for runs inside a run folder', async () => {
      await model('outer/model.onnx');
      await model('outer/inner/model.onnx');
      assert.deepEqual((await scanRuns(tmp, {})).map((r) => r.id), ['outer']);
    });

    it('finishes on a symlink loop and follows a symlinked folder once', async function () {
      if (process.platform === 'win32') this.skip();
      await model('real/run/model.onnx');
      await fsp.symlink(path.join(tmp, 'real'), path.join(tmp, 'real/loop'), 'dir');
      await fsp.symlink(tmp, path.join(tmp, 'real/up'), 'dir');
      await fsp.symlink(path.join(tmp, 'real/run'), path.join(tmp, 'alias'), 'dir');
      const runs = await scanRuns(tmp, {});
      assert.equal(runs.length, 1);
      assert.ok(['alias', 'real/run'].includes(runs[0].id));
    });

    it('throws CANCELLED for an already-aborted signal', async () => {
      await model('r/model.onnx');
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(scanRuns(tmp, { signal: controller.signal }), (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED');
    });

    it('stops between folders when the signal fires mid-scan', async () => {
      for (let i = 0; i < 20; i++) await model(`d${i}/model.onnx`);
      const controller = new AbortController();
      const scan = scanRuns(tmp, { signal: controller.signal, onProgress: (n) => n === 3 && controller.abort() });
      await assert.rejects(scan, (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED');
    });

    it('uses the configured Lightning metric', async () => {
      await model('lightning_logs/version_0/model.onnx');
      await write('lightning_logs/version_0/metrics.csv', 'epoch,step,val_f1\n0,1,0.75\n');
      const runs = await scanRuns(tmp, { metric: 'val_f1' });
      assert.equal(runs[0].heldout, 0.75);
      assert.equal(runs[0].layout, 'lightning');
    });

    it('throws READ_FAILED for a missing workspace', async () => {
      await assert.rejects(scanRuns(path.join(tmp, 'nope'), {}), (err: unknown) => err instanceof SoupError && err.code === 'READ_FAILED');
    });
  });
});
