import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { calibrationOf } from '../../src/engine/analyses/calibration';
import { nllAtTemperature } from '../../src/engine/analyses/temperature';
import { defaultConfig } from '../../src/engine/config';
import type { EvalDataset } from '../../src/engine/datasets/evalDataset';
import { openDatasets } from '../../src/engine/datasets/openDatasets';
import { exampleStatsOf } from '../../src/engine/evaluate/exampleStats';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { loadWeights } from '../../src/engine/soups/weights';
import { EXAMPLE, FASHION_IMAGES, REFERENCE_SOUPS } from './helpers/paths';

const images = JSON.parse(readFileSync(path.join(FASHION_IMAGES, 'expected-images.json'), 'utf8')) as {
  classes: string[];
  counts: Record<string, Record<string, { correct: number; n: number }>>;
};

/**
 * Calibration of a class-subset set written out from the definition, apart from the engine:
 * float64 softmax over the logits of `subset` only, the label re-indexed within the subset for
 * Brier, the prediction the first largest of those logits, ECE over 15 equal-width bins.
 */
function restrictedCalibration(logits: Float32Array, classes: number, labels: ArrayLike<number>, subset: number[]) {
  const n = labels.length;
  const bins = Array.from({ length: 15 }, () => ({ count: 0, hits: 0, conf: 0 }));
  let nll = 0;
  let brier = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const z = subset.map((c) => logits[i * classes + c]);
    const top = Math.max(...z);
    const e = z.map((v) => Math.exp(v - top));
    const total = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / total);
    const k = z.indexOf(top);
    const yk = subset.indexOf(labels[i]);
    assert.ok(yk >= 0, `label ${labels[i]} is outside the subset`);
    const hit = k === yk ? 1 : 0;
    correct += hit;
    nll -= Math.log(p[yk]);
    brier += p.reduce((s, pk, j) => s + (pk - (j === yk ? 1 : 0)) ** 2, 0);
    const b = bins[Math.min(Math.floor(p[k] * 15), 14)];
    b.count++;
    b.hits += hit;
    b.conf += p[k];
  }
  const ece = bins.reduce((s, b) => (b.count > 0 ? s + (b.count / n) * Math.abs(b.hits / b.count - b.conf / b.count) : s), 0);
  return { correct, nll: nll / n, brier: brier / n, ece };
}

describe('calibration of a class-subset set (fashion-images subset/footwear: Sandal, Sneaker, Ankle boot)', function () {
  this.timeout(300_000);
  let ev: Evaluator;
  let ds: EvalDataset;
  let logits: Float32Array;
  let stats: NonNullable<Awaited<ReturnType<Evaluator['run']>>['stats']>;
  let correct: number;
  const footwear = ['Sandal', 'Sneaker', 'Ankle boot'].map((name) => images.classes.indexOf(name)).sort((a, b) => a - b);

  before(async () => {
    const soup = await readOnnxModel(path.join(REFERENCE_SOUPS, 'greedy_soup.onnx'));
    ev = await Evaluator.create(soup, { batchSize: 256 });
    const rel = path.relative(EXAMPLE, path.join(FASHION_IMAGES, 'subset', 'footwear')).split(path.sep).join('/');
    [ds] = (await openDatasets([['footwear', rel]], defaultConfig(), { workspace: EXAMPLE, inputName: ev.inputName, inputDims: ev.inputDims, modelClasses: ev.classes, searchDirs: [path.join(EXAMPLE, 'runs/ft-07')] })).datasets;
    const r = await ev.run((await loadWeights(soup)) as Float32Array[], ds, { stats: true, keepLogits: true });
    assert.ok(r.stats && r.logits);
    [stats, logits, correct] = [r.stats, r.logits, r.correct];
  });
  after(async () => {
    await ds?.close();
    await ev?.release();
  });

  it('takes ECE, NLL and Brier among the 3 classes present, as accuracy does (computed here from the logits)', () => {
    assert.deepEqual(ds.subset, footwear);
    const want = restrictedCalibration(logits, 10, ds.y, footwear);
    const got = calibrationOf(stats, ds.y);
    assert.equal(got.correct, correct, 'calibration and accuracy count the same hits');
    assert.equal(got.correct, want.correct);
    assert.equal(got.correct, images.counts.greedy_soup['subset/footwear'].correct, 'the PyTorch 3-class count');
    for (const k of ['nll', 'brier', 'ece'] as const) assert.ok(Math.abs(got[k] - want[k]) < 1e-9, `${k}: ${got[k]} vs ${want[k]}`);
    // Every prediction is one of the set's classes, named by its model index.
    assert.ok(stats.pred.every((p) => footwear.includes(p)));
  });

  it('differs from the statistics over all 10 classes: each label gets at least its unrestricted probability', () => {
    const all = calibrationOf(exampleStatsOf(logits, 10, ds.y), ds.y);
    const got = calibrationOf(stats, ds.y);
    assert.ok(got.nll < all.nll, `NLL ${got.nll} among 3 vs ${all.nll} among 10`);
    assert.ok(got.correct > all.correct, `${got.correct} hits among 3 vs ${all.correct} among 10`);
    assert.notEqual(got.brier, all.brier);
    assert.notEqual(got.ece, all.ece);
  });

  it('applies the same restriction to the logits path of the analyses (ensemble, temperature scaling)', () => {
    const fromLogits = exampleStatsOf(logits, 10, ds.y, 1, ds.subset);
    for (const k of ['conf', 'pred', 'logpLabel', 'brier'] as const) assert.deepEqual(fromLogits[k], stats[k], k);
    const nll = nllAtTemperature({ key: 'footwear', logits, classes: 10, labels: ds.y, subset: ds.subset }, 1);
    assert.ok(Math.abs(nll - restrictedCalibration(logits, 10, ds.y, footwear).nll) < 1e-9);
  });
});
