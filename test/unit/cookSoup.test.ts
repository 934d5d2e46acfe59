import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/engine/config';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookSoup } from '../../src/engine/cookSoup';
import { SoupError } from '../../src/engine/errors';
import { datasetBatch, loadDataset } from '../../src/engine/evaluate/dataset';
import { argmax } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { REPORT_FILE, REPORT_SCHEMA, SOUP_MODEL_FILE } from '../../src/engine/report';
import { loadWeights } from '../../src/engine/soups/weights';
import { expected } from './helpers/expected';
import { EXAMPLE, REFERENCE_SOUPS, tempDir } from './helpers/paths';

describe('cookSoup on the bundled Fashion-MNIST zoo', function () {
  this.timeout(300_000);
  let out: string;
  let greedy: CookResult;

  before(async () => {
    out = await tempDir();
    greedy = await cookSoup({ workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'greedy', outDir: out, name: 'greedy' });
  });
  after(async () => {
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('picks the same greedy members in the same order as PyTorch', () => {
    assert.deepEqual(greedy.report.soup.members, expected.greedy_soup.members);
  });

  it('records one step per candidate with the expected held-out correct counts and decisions', () => {
    const steps = greedy.report.steps.map((s) => [s.candidate, s.correct, s.added]);
    const want = expected.greedy_soup.steps.map((s) => [s.candidate, s.candidate_soup_heldout_correct, s.accepted]);
    assert.deepEqual(steps, want);
    assert.equal(greedy.report.steps[0].bestBefore, undefined);
    assert.equal(greedy.report.steps[1].bestBefore, greedy.report.steps[0].correct);
  });

  it('measures every ingredient with the correct counts PyTorch computed, on every dataset', () => {
    for (const ing of expected.ingredients) {
      const got = greedy.report.ingredients.find((i) => i.id === ing.id);
      assert.ok(got, `ingredient ${ing.id} missing`);
      assert.equal(got.status, 'ok');
      assert.equal(got.layout, ing.layout);
      assert.equal(got.heldout, ing.heldout_acc_in_metrics);
      assert.deepEqual(got.metrics?.correct, ing.correct, ing.id);
    }
  });

  it('reproduces the greedy soup, uniform soup and logit ensemble counts on every dataset', () => {
    assert.deepEqual(greedy.report.soup.metrics.correct, expected.greedy_soup.correct);
    assert.deepEqual(greedy.report.baselines.uniform.metrics.correct, expected.uniform_soup.correct);
    assert.deepEqual(greedy.report.baselines.ensemble.metrics.correct, expected.ensemble.logits_mean.correct);
    assert.equal(greedy.report.baselines.bestIndividual.members[0], 'lightning_logs/version_0');
  });

  it('reports accuracies as fractions with a shift average over the five shifts', () => {
    const m = greedy.report.soup.metrics;
    assert.equal(m.heldout, expected.greedy_soup.correct.heldout / 2000);
    assert.deepEqual(Object.keys(m.shifts), expected.shift_names);
    const avg = expected.shift_names.reduce((s, k) => s + expected.greedy_soup.correct[k] / 2000, 0) / 5;
    assert.ok(Math.abs((m.shiftAvg ?? 0) - avg) < 1e-12);
    assert.equal(greedy.report.schema, REPORT_SCHEMA);
    assert.equal(greedy.report.datasets.heldout.n, 2000);
    assert.equal(greedy.report.soup.path, path.relative(EXAMPLE, path.join(out, 'greedy', SOUP_MODEL_FILE)).split(path.sep).join('/'));
    for (const phase of ['scan', 'load', 'evaluate', 'soup', 'write']) assert.ok(greedy.report.timingsMs[phase] >= 0, phase);
  });

  it('keeps the pretrained model out of the ingredients and records each ingredient file hash', () => {
    assert.ok(!greedy.report.ingredients.some((i) => i.model === 'pretrained/model.onnx'));
    assert.equal(greedy.report.ingredients.length, 12);
    for (const i of greedy.report.ingredients) assert.match(i.sha256 ?? '', /^[0-9a-f]{64}$/);
  });

  it('writes report.json equal to the returned report', async () => {
    const onDisk = JSON.parse(await fsp.readFile(path.join(greedy.dir, REPORT_FILE), 'utf8'));
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(greedy.report)));
  });

  it('writes a soup.onnx that onnxruntime loads on its own and that predicts like the soup', async () => {
    const session = await ort.InferenceSession.create(path.join(greedy.dir, SOUP_MODEL_FILE));
    try {
      for (const key of ['heldout', 'gaussian_noise']) {
        const rel = greedy.report.datasets[key].path;
        const ds = await loadDataset(key, rel, EXAMPLE, 1);
        const res = await session.run({ input: new ort.Tensor('float32', datasetBatch(ds, 0, ds.n), ds.xShape) });
        const logits = res.logits.data as Float32Array;
        let correct = 0;
        for (let i = 0; i < ds.n; i++) if (argmax(logits, i * 10, 10) === ds.y[i]) correct++;
        assert.equal(correct, greedy.report.soup.metrics.correct[key], key);
      }
    } finally {
      await session.release();
    }
  });

  it('writes weights equal to the PyTorch float64 mean rounded to float32', async () => {
    const mine = await loadWeights(await readOnnxModel(path.join(greedy.dir, SOUP_MODEL_FILE)));
    const ref = await loadWeights(await readOnnxModel(path.join(REFERENCE_SOUPS, 'greedy_soup.onnx')));
    assert.equal(mine.length, 8);
    let maxDiff = 0;
    mine.forEach((w, i) => w.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - ref[i][k])))));
    assert.ok(maxDiff <= 1e-7, `max difference ${maxDiff}`);
  });

  it('never writes an ingredient file', async () => {
    const ft07 = greedy.report.ingredients.find((i) => i.id === 'runs/ft-07');
    const { createHash } = await import('node:crypto');
    const now = createHash('sha256').update(await fsp.readFile(path.join(EXAMPLE, 'runs/ft-07/model.onnx'))).digest('hex');
    assert.equal(now, ft07?.sha256);
  });

  it('gives the same soup with the official code\'s strict ">" rule', async () => {
    const config = loadConfig(EXAMPLE);
    config.greedy.comparison = '>';
    const strict = await cookSoup({ workspace: EXAMPLE, config, method: 'greedy', outDir: out, name: 'strict' });
    assert.deepEqual(strict.report.soup.members, expected.greedy_soup_strict_gt.members);
    assert.deepEqual(strict.report.soup.metrics.correct, expected.greedy_soup_strict_gt.correct);
    assert.equal(strict.report.options.comparison, '>');
  });

  it('cooks a uniform soup of all twelve runs with the expected counts', async () => {
    const uni = await cookSoup({ workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'uniform', outDir: out, name: 'uniform' });
    assert.deepEqual([...uni.report.soup.members].sort(), [...expected.uniform_soup.members].sort());
    assert.deepEqual(uni.report.soup.metrics.correct, expected.uniform_soup.correct);
    assert.deepEqual(uni.report.steps, []);
    const mine = await loadWeights(await readOnnxModel(path.join(uni.dir, SOUP_MODEL_FILE)));
    const ref = await loadWeights(await readOnnxModel(path.join(REFERENCE_SOUPS, 'uniform_soup.onnx')));
    mine.forEach((w, i) => w.forEach((v, k) => assert.ok(Math.abs(v - ref[i][k]) <= 1e-7)));
  });

  it('cooks from a chosen subset of ingredients only', async () => {
    const ids = ['runs/ft-07', 'sweep-c09'];
    const r = await cookSoup({ workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'uniform', ingredients: ids, outDir: out, name: 'pair' });
    assert.deepEqual(r.report.soup.members, ids);
    assert.deepEqual(r.report.baselines.ensemble.members, ids);
  });

  it('appends a suffix instead of overwriting an existing soup folder', async () => {
    const r = await cookSoup({ workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'uniform', ingredients: ['runs/ft-07'], outDir: out, name: 'pair' });
    assert.equal(path.basename(r.dir), 'pair-2');
    assert.equal(r.report.name, 'pair-2');
  });

  it('refuses an ingredient that is not a scored run, naming it', async () => {
    await assert.rejects(
      cookSoup({ workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'uniform', ingredients: ['runs/nope'], outDir: out }),
      (err: unknown) => err instanceof SoupError && err.code === 'NO_INGREDIENTS' && err.message.includes('runs/nope'),
    );
  });

  it('stops promptly when cancelled mid-cook and leaves no output', async () => {
    const cancelOut = await tempDir();
    const controller = new AbortController();
    const phases: string[] = [];
    await assert.rejects(
      cookSoup(
        { workspace: EXAMPLE, config: loadConfig(EXAMPLE), method: 'greedy', outDir: cancelOut, name: 'cancelled' },
        {
          signal: controller.signal,
          onProgress: (p) => {
            phases.push(p.phase);
            if (p.phase === 'soup' && p.done === 3) controller.abort();
          },
        },
      ),
      (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED',
    );
    assert.ok(!phases.includes('write'), 'reached the write phase after cancel');
    assert.deepEqual(await fsp.readdir(cancelOut), []);
    await fsp.rm(cancelOut, { recursive: true, force: true });
  });
});
