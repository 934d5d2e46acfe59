import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_HELDOUT_KEYS } from '../../src/engine/discovery/heldoutKeys';
import { isHfTrainerRun, lastPathSegment, readHfTrainerRun } from '../../src/engine/discovery/hfTrainer';
import { isLightningRun, parseCsv, parseHParamsYaml, readLightningRun, scoreMetricsCsv } from '../../src/engine/discovery/lightning';
import { checkAccuracyValue, isPlainRun, listRunFolder, parsePythonJson, readPlainRun } from '../../src/engine/discovery/plainRun';
import type { RunFolder } from '../../src/engine/discovery/plainRun';

const REPO = path.resolve(__dirname, '../../..');
const ZOO = path.join(REPO, 'examples/fashion-soup');
const REAL_MODEL = path.join(ZOO, 'sweep-a02/model.onnx');
const MODEL = Symbol('model.onnx');

/** Writes `files` (relative path -> text, or `MODEL` for a copy of a real model) under `dir`. */
async function writeTree(dir: string, files: Record<string, string | typeof MODEL>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    if (content === MODEL) await fsp.copyFile(REAL_MODEL, abs);
    else await fsp.writeFile(abs, content);
  }
}

async function folder(root: string, rel: string): Promise<RunFolder> {
  const listed = await listRunFolder(root, path.join(root, rel));
  assert.ok(listed, `cannot list ${rel}`);
  return listed;
}

describe('run layout readers', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-discovery-'));
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  describe('on the real example zoo', () => {
    it('reads an HF run with eval_results.json and normalised training_args hparams', async () => {
      const f = await folder(ZOO, 'runs/ft-00');
      assert.equal(await isHfTrainerRun(f), true);
      const run = await readHfTrainerRun(f);
      assert.equal(run.id, 'runs/ft-00');
      assert.equal(run.status, 'ok');
      assert.equal(run.heldout, 0.856);
      assert.deepEqual(run.metricsSource, { file: 'runs/ft-00/eval_results.json', field: 'eval_accuracy' });
      assert.equal(run.modelPath, path.join(ZOO, 'runs/ft-00/model.onnx'));
      assert.equal(run.hparams.lr, 0.0014);
      assert.equal(run.hparams.batch_size, 32);
      assert.equal(run.hparams.augmentation, 'flip');
      assert.equal(run.hparams.output_dir, undefined, 'bookkeeping args are not hyperparameters');
      assert.equal(run.checkpoint, undefined);
    });

    it('falls back to all_results.json and config.json finetuning_hparams (ft-07)', async () => {
      const run = await readHfTrainerRun(await folder(ZOO, 'runs/ft-07'));
      assert.deepEqual(run.metricsSource, { file: 'runs/ft-07/all_results.json', field: 'eval_accuracy' });
      assert.equal(run.heldout, 0.876);
      assert.equal(run.hparams.epochs, 6);
      assert.equal(run.hparams.augmentation, 'crop+flip');
    });

    it('reads a Lightning run: val_acc of the last validation row', async () => {
      const f = await folder(ZOO, 'lightning_logs/version_0');
      assert.equal(isLightningRun(f), true);
      const run = await readLightningRun(f);
      assert.equal(run.status, 'ok');
      assert.equal(run.heldout, 0.8775);
      assert.deepEqual(run.metricsSource, { file: 'lightning_logs/version_0/metrics.csv', field: 'val_acc' });
      assert.equal(run.hparams.epochs, 3);
      assert.equal(run.hparams.lr_scheduler, 'constant_with_warmup');
    });

    it('reads a plain run', async () => {
      const f = await folder(ZOO, 'sweep-c09');
      assert.equal(isPlainRun(f), true);
      const run = await readPlainRun(f);
      assert.equal(run.heldout, 0.872);
      assert.equal(run.hparams.seed, 7406);
    });
  });

  describe('Hugging Face Trainer checkpoints', () => {
    it('chooses the checkpoint named by an absolute best_model_checkpoint, by its last folder name', async () => {
      await writeTree(tmp, {
        'run/trainer_state.json': JSON.stringify({ best_metric: 0.81, best_model_checkpoint: '/home/someone/out/run/checkpoint-20/' }),
        'run/training_args.json': JSON.stringify({ learning_rate: 0.001, output_dir: '/home/someone/out/run' }),
        'run/checkpoint-10/model.onnx': MODEL,
        'run/checkpoint-10/trainer_state.json': JSON.stringify({ log_history: [{ step: 10, eval_accuracy: 0.7 }] }),
        'run/checkpoint-20/model.onnx': MODEL,
        'run/checkpoint-20/trainer_state.json': JSON.stringify({
          best_metric: 0.81,
          log_history: [{ step: 10, eval_accuracy: 0.7 }, { step: 20, loss: 0.3 }, { step: 20, eval_accuracy: 0.8125 }],
        }),
        'run/checkpoint-30/model.onnx': MODEL,
      });
      const f = await folder(tmp, 'run');
      assert.equal(await isHfTrainerRun(f), true);
      const run = await readHfTrainerRun(f);
      assert.equal(run.id, 'run');
      assert.equal(run.checkpoint, 'checkpoint-20');
      assert.equal(run.modelPath, path.join(tmp, 'run/checkpoint-20/model.onnx'));
      assert.equal(run.status, 'ok');
      assert.equal(run.heldout, 0.8125);
      assert.deepEqual(run.metricsSource, { file: 'run/checkpoint-20/trainer_state.json', field: 'log_history[2].eval_accuracy' });
      assert.equal(run.hparams.lr, 0.001);
    });

    it('accepts a Windows best_model_checkpoint path and uses best_metric when the step was not logged', async () => {
      await writeTree(tmp, {
        'run/trainer_state.json': JSON.stringify({ best_model_checkpoint: 'C:\\runs\\run\\checkpoint-5' }),
        'run/checkpoint-5/model.onnx': MODEL,
        'run/checkpoint-5/trainer_state.json': JSON.stringify({ best_metric: 0.66, log_history: [] }),
      });
      const run = await readHfTrainerRun(await folder(tmp, 'run'));
      assert.equal(run.checkpoint, 'checkpoint-5');
      assert.equal(run.heldout, 0.66);
      assert.deepEqual(run.metricsSource, { file: 'run/checkpoint-5/trainer_state.json', field: 'best_metric' });
    });

    it('uses the top-level model when there is no best_model_checkpoint', async () => {
      await writeTree(tmp, {
        'run/model.onnx': MODEL,
        'run/eval_results.json': JSON.stringify({ eval_accuracy: 0.9 }),
        'run/trainer_state.json': JSON.stringify({ best_metric: null, best_model_checkpoint: null }),
        'run/checkpoint-3/model.onnx': MODEL,
      });
      const run = await readHfTrainerRun(await folder(tmp, 'run'));
      assert.equal(run.checkpoint, undefined);
      assert.equal(run.modelPath, path.join(tmp, 'run/model.onnx'));
      assert.equal(run.heldout, 0.9);
    });

    it('uses the top-level model when the named checkpoint was not kept', async () => {
      await writeTree(tmp, {
        'run/model.onnx': MODEL,
        'run/trainer_state.json': JSON.stringify({ best_metric: 0.75, best_model_checkpoint: 'out/run/checkpoint-99' }),
        'run/checkpoint-3/model.onnx': MODEL,
      });
      const run = await readHfTrainerRun(await folder(tmp, 'run'));
      assert.equal(run.checkpoint, undefined);
      assert.deepEqual(run.metricsSource, { file: 'run/trainer_state.json', field: 'best_metric' });
      assert.equal(run.heldout, 0.75);
    });

    it('is not a run without any model.onnx', async () => {
      await writeTree(tmp, { 'run/trainer_state.json': '{}', 'run/checkpoint-3/trainer_state.json': '{}' });
      assert.equal(await isHfTrainerRun(await folder(tmp, 'run')), false);
    });
  });

  describe('accuracy validation', () => {
    it('reports a bare NaN in metrics.json by file and field', async () => {
      await writeTree(tmp, { 'x/model.onnx': MODEL, 'x/metrics.json': '{"val_accuracy": NaN, "hparams": {"lr": 0.1}}' });
      const run = await readPlainRun(await folder(tmp, 'x'));
      assert.equal(run.status, 'unscored');
      assert.equal(run.reason, 'x/metrics.json: val_accuracy is NaN');
      assert.equal(run.heldout, undefined);
      assert.equal(run.hparams.lr, 0.1, 'hparams are still read');
    });

    it('reports malformed JSON with the parse error', async () => {
      await writeTree(tmp, { 'x/model.onnx': MODEL, 'x/metrics.json': '{"val_accuracy": 0.8,' });
      const run = await readPlainRun(await folder(tmp, 'x'));
      assert.equal(run.status, 'unscored');
      assert.match(run.reason ?? '', /^x\/metrics\.json: not valid JSON \(.+\)$/);
    });

    it('reports a model without metrics as an unscored plain run', async () => {
      await writeTree(tmp, { 'x/model.onnx': MODEL });
      const run = await readPlainRun(await folder(tmp, 'x'));
      assert.equal(run.layout, 'plain');
      assert.equal(run.status, 'unscored');
      assert.equal(run.reason, 'x: no metrics file');
    });

    it('reports an empty model file as unreadable', async () => {
      await writeTree(tmp, { 'x/model.onnx': '', 'x/metrics.json': '{"val_accuracy": 0.5}' });
      const run = await readPlainRun(await folder(tmp, 'x'));
      assert.equal(run.status, 'unreadable');
      assert.equal(run.reason, 'x/model.onnx: is empty');
    });

    it('rejects Infinity, percentages, strings, null and missing fields', () => {
      const reason = (v: unknown): string | undefined => {
        const s = checkAccuracyValue(v, 'r/m.json', 'acc');
        return s.ok ? undefined : s.reason;
      };
      assert.equal(reason(Infinity), 'r/m.json: acc is Infinity');
      assert.equal(reason(-Infinity), 'r/m.json: acc is -Infinity');
      assert.equal(reason(87.5), 'r/m.json: acc is 87.5, expected a fraction in [0, 1]');
      assert.equal(reason(-0.1), 'r/m.json: acc is -0.1, expected a fraction in [0, 1]');
      assert.equal(reason('0.8'), 'r/m.json: acc is a string ("0.8"), expected a number in [0, 1]');
      assert.equal(reason(null), 'r/m.json: acc is null, expected a number in [0, 1]');
      assert.equal(reason(0), undefined);
      assert.equal(reason(1), undefined);
    });

    it('reports metrics.json without any of the default held-out keys, naming them in order', async () => {
      await writeTree(tmp, { 'x/model.onnx': MODEL, 'x/metrics.json': '{"accuracy": 0.8}' });
      const run = await readPlainRun(await folder(tmp, 'x'));
      assert.equal(run.reason, `x/metrics.json: no ${DEFAULT_HELDOUT_KEYS.join(' or ')}`);
    });

    it('reports an HF eval_accuracy of Infinity without falling back to best_metric', async () => {
      await writeTree(tmp, {
        'r/model.onnx': MODEL,
        'r/eval_results.json': '{"eval_accuracy": Infinity}',
        'r/trainer_state.json': '{"best_metric": 0.5}',
      });
      const run = await readHfTrainerRun(await folder(tmp, 'r'));
      assert.equal(run.status, 'unscored');
      assert.equal(run.reason, 'r/eval_results.json: eval_accuracy is Infinity');
    });

    it('parses Python JSON tokens only outside strings', () => {
      assert.deepEqual(parsePythonJson('{"a": "NaN Infinity", "b": [-Infinity, 1e-3]}'), { a: 'NaN Infinity', b: [-Infinity, 0.001] });
      assert.ok(Number.isNaN((parsePythonJson('{"x": NaN}') as { x: number }).x));
      assert.throws(() => parsePythonJson('{"x": NaN,}'), SyntaxError);
    });
  });

  describe('Lightning metrics.csv', () => {
    it('reads a custom metric name', async () => {
      await writeTree(tmp, {
        'lightning_logs/version_0/model.onnx': MODEL,
        'lightning_logs/version_0/hparams.yaml': 'lr: 0.01\nmax_epochs: 2\n',
        'lightning_logs/version_0/metrics.csv': 'epoch,step,train_loss,val_top1\n0,9,,0.5\n1,10,0.2,\n1,19,,0.625\n',
      });
      const f = await folder(tmp, 'lightning_logs/version_0');
      const run = await readLightningRun(f, { metric: 'val_top1' });
      assert.equal(run.status, 'ok');
      assert.equal(run.heldout, 0.625);
      assert.deepEqual(run.metricsSource, { file: 'lightning_logs/version_0/metrics.csv', field: 'val_top1' });
      const unconfigured = await readLightningRun(f);
      assert.equal(unconfigured.status, 'unscored');
      assert.equal(unconfigured.reason, `lightning_logs/version_0/metrics.csv: no column ${DEFAULT_HELDOUT_KEYS.join(' or ')} (columns: epoch, step, train_loss, val_top1)`);
    });

    it('takes the row with the highest epoch/step, not the last line of the file', () => {
      const score = scoreMetricsCsv('epoch,step,val_acc\n2,30,0.9\n0,10,0.1\n', 'm.csv');
      assert.deepEqual(score, { ok: true, value: 0.9, source: { file: 'm.csv', field: 'val_acc' } });
    });

    it('reports a nan cell with its row', () => {
      const score = scoreMetricsCsv('epoch,step,val_acc\n0,10,0.5\n1,20,nan\n', 'm.csv');
      assert.deepEqual(score, { ok: false, reason: 'm.csv: val_acc (row 3) is NaN' });
    });

    it('parses quoted fields, escaped quotes, CRLF and empty cells', () => {
      assert.deepEqual(parseCsv('a,"b,c",d\r\n"x ""y""",,"multi\nline"\r\n'), [['a', 'b,c', 'd'], ['x "y"', '', 'multi\nline']]);
      assert.throws(() => parseCsv('a,"b\n'), /unclosed quote/);
    });

    it('parses hparams.yaml safely: duplicate keys and alias bombs are refused, Python tags ignored', () => {
      assert.equal(parseHParamsYaml('lr: 1\nlr: 2\n'), undefined);
      const bomb = ['a: &a [x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
      assert.equal(parseHParamsYaml(bomb), undefined);
      assert.deepEqual(parseHParamsYaml('betas: !!python/tuple [0.9, 0.99]\nmax_epochs: 3\n'), { betas: [0.9, 0.99], epochs: 3 });
    });

    it('keeps a run scored when hparams.yaml is broken, with a warning naming the file', async () => {
      await writeTree(tmp, {
        'v/model.onnx': MODEL,
        'v/hparams.yaml': 'lr: [unclosed\n',
        'v/metrics.csv': 'epoch,step,val_accuracy\n0,5,0.4\n',
      });
      const run = await readLightningRun(await folder(tmp, 'v'));
      assert.equal(run.status, 'ok');
      assert.equal(run.heldout, 0.4);
      assert.deepEqual(run.hparams, {});
      assert.equal(run.warnings?.length, 1);
      assert.match(run.warnings?.[0] ?? '', /^v\/hparams\.yaml: not a safe YAML mapping/);
    });
  });

  it('takes the last folder name of paths from any OS', () => {
    assert.equal(lastPathSegment('/abs/out/checkpoint-7/'), 'checkpoint-7');
    assert.equal(lastPathSegment('D:\\x\\checkpoint-8'), 'checkpoint-8');
    assert.equal(lastPathSegment('checkpoint-9'), 'checkpoint-9');
  });
});
