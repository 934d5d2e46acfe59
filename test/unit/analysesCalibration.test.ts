import * as assert from 'node:assert/strict';
import { binOf, calibrationOf } from '../../src/engine/analyses/calibration';
import { evaluateModel } from '../../src/engine/analyses/modelEvaluation';
import type { AnalysesInput } from '../../src/engine/analyses/runAnalyses';
import { ENSEMBLE, runAnalyses, SOUP } from '../../src/engine/analyses/runAnalyses';
import { goldenSection } from '../../src/engine/analyses/temperature';
import type { Analyses, TemperatureScaling } from '../../src/engine/analyses/types';
import { exampleStatsOf } from '../../src/engine/evaluate/exampleStats';
import type { AnalysesContext } from './helpers/analysesContext';
import { analysesContext, analysesInput, assertCalibrationMatchesReference, reference } from './helpers/analysesContext';

describe('Calibration: per-example statistics, ECE / NLL / Brier', () => {
  it('computes confidence, log-probability of the label and Brier score from logits in float64', () => {
    // Logits (0, ln 3): p = (1/4, 3/4). Label 0: log p = ln(1/4), Brier = (1/4 − 1)² + (3/4)².
    const s = exampleStatsOf([0, Math.log(3), 5, 5], 2, [0, 1]);
    assert.equal(s.pred[0], 1);
    assert.ok(Math.abs(s.conf[0] - 0.75) < 1e-15);
    assert.ok(Math.abs(s.logpLabel[0] - Math.log(0.25)) < 1e-15);
    assert.ok(Math.abs(s.brier[0] - (0.5625 + 0.5625)) < 1e-15);
    // A tie predicts the first class (as torch.argmax) with confidence 1/2.
    assert.equal(s.pred[1], 0);
    assert.ok(Math.abs(s.conf[1] - 0.5) < 1e-15);
    // A temperature flattens the probabilities but keeps the prediction.
    const hot = exampleStatsOf([0, Math.log(3)], 2, [1], Math.log(3));
    assert.equal(hot.pred[0], 1);
    assert.ok(Math.abs(hot.conf[0] - Math.exp(1) / (1 + Math.exp(1))) < 1e-15);
  });

  it('bins confidences into [k/15, (k+1)/15) with 1.0 in the last bin', () => {
    assert.equal(binOf(1), 14);
    assert.equal(binOf(14 / 15), 14);
    assert.equal(binOf(0.9333), 13);
    assert.equal(binOf(0.1), 1);
    // Two examples in bin 14 (one right, one wrong, mean confidence 0.975) and one in bin 7 (right, 0.5).
    const cal = calibrationOf({ conf: Float64Array.of(1, 0.95, 0.5), pred: Int32Array.of(0, 1, 2), logpLabel: Float64Array.of(0, -1, -2), brier: Float64Array.of(0, 0.5, 1) }, [0, 0, 2]);
    assert.deepEqual(cal.reliability.map((b) => b.count), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2]);
    assert.equal(cal.correct, 2);
    assert.ok(Math.abs(cal.ece - ((2 / 3) * 0.475 + (1 / 3) * 0.5)) < 1e-15);
    assert.ok(Math.abs(cal.mce - 0.5) < 1e-15);
    assert.ok(Math.abs(cal.nll - 1) < 1e-15);
    assert.ok(Math.abs(cal.brier - 0.5) < 1e-15);
    assert.equal(cal.reliability[0].meanConf, null);
  });

  it('golden-section search finds the minimum of a parabola in 41 evaluations over [log 0.05, log 20]', () => {
    const r = goldenSection((u) => (u - 0.3) ** 2, Math.log(0.05), Math.log(20), 1e-7);
    assert.ok(Math.abs(r.u - 0.3) < 1e-7);
    assert.equal(r.evaluations, 41);
  });
});

describe('Calibration analysis on the fashion-soup example (against the PyTorch reference)', function () {
  this.timeout(600_000);
  let ctx: AnalysesContext;
  let analyses: Analyses;
  let input: AnalysesInput;

  before(async () => {
    ctx = await analysesContext();
    input = analysesInput(ctx, { run: ['calibration'] });
    analyses = await runAnalyses(input);
  });

  it('the evaluator\'s per-example statistics are those of its logits, across batch boundaries, and agree with its correct count', async () => {
    const heldout = ctx.datasets[0];
    const r = await ctx.evaluator.run(ctx.greedyWeights, heldout, { stats: true, keepLogits: true });
    assert.ok(r.stats && r.logits);
    const whole = exampleStatsOf(r.logits, 10, heldout.y);
    for (const k of ['conf', 'pred', 'logpLabel', 'brier'] as const) assert.deepEqual(r.stats[k], whole[k], k);
    assert.equal(r.stats.pred.filter((p, i) => p === heldout.y[i]).length, r.correct);
    assert.equal(r.correct, reference.calibration.models.greedy_soup.heldout.correct);
  });

  it('matches ECE, NLL and Brier of every model on every dataset within 1e-6 (ECE within 2/N where a confidence lies within 1e-6 of a bin edge)', () => {
    const cal = analyses.calibration;
    assert.ok(cal);
    const compared = assertCalibrationMatchesReference(cal);
    assert.equal(compared, 16 * 7);
    assert.equal(cal.bestIndividual, 'lightning_logs/version_0');
  });

  it('fits the soup\'s and the ensemble\'s temperature on held-out NLL as the reference does (T within 1e-3)', () => {
    const cal = analyses.calibration;
    assert.ok(cal);
    for (const [name, ref] of [
      [SOUP, reference.calibration.temperature_scaling.greedy_soup],
      [ENSEMBLE, reference.calibration.temperature_scaling_other_models.ensemble_logits_mean],
    ] as const) {
      const t: TemperatureScaling | undefined = cal.temperature.find((x) => x.model === name);
      assert.ok(t, name);
      assert.ok(Math.abs(t.T - ref.T) < 1e-3, `${name}: T ${t.T} vs ${ref.T}`);
      assert.equal(t.search.evaluations, ref.search.n_evals);
      assert.ok(Math.abs(t.heldoutNllAtT - ref.heldout_nll_at_T) < 1e-6);
      for (const key of reference.eval_order) {
        const o: TemperatureScaling['datasets'][string] = t.datasets[key];
        const r = ref.per_dataset[key];
        assert.equal(o.acc, r.acc);
        for (const [a, b] of [[o.nllBefore, r.nll_before], [o.nllAfter, r.nll_after], [o.brierBefore, r.brier_before], [o.brierAfter, r.brier_after], [o.eceAfter, r.ece_after]]) {
          assert.ok(Math.abs(a - b) <= 1e-6, `${name} on ${key}: ${a} vs ${b}`);
        }
      }
    }
    // The soup is better calibrated on held-out after scaling (T < 1 sharpens it).
    const soup = cal.temperature[0];
    assert.ok(soup.T < 1 && soup.datasets.heldout.nllAfter < soup.datasets.heldout.nllBefore);
  });

  it('reports its settings and cost: the soup, the uniform soup and the pretrained model, 7 passes each; ingredients come from the book', () => {
    const cal = analyses.calibration;
    assert.ok(cal);
    assert.equal(cal.settings.bins, 15);
    assert.equal(cal.cost.forwardPasses, 3 * 7);
    assert.ok(cal.cost.ms > 0);
  });

  it('costs no pass at all when the cook hands over the soup\'s logits and its book holds the other models', async () => {
    const { logits } = await evaluateModel(ctx.evaluator, ctx.greedyWeights, ctx.datasets, { keepLogits: true });
    const again = await runAnalyses({ ...input, soupLogits: logits });
    assert.equal(again.calibration?.cost.forwardPasses, 0);
    assert.deepEqual(again.calibration?.models[SOUP], analyses.calibration?.models[SOUP]);
    assert.deepEqual(again.calibration?.temperature, analyses.calibration?.temperature);
  });
});
