import * as assert from 'node:assert/strict';
import { directionGram, pairGeometry, selectPairs } from '../../src/engine/analyses/angles';
import { averageRanks, pearson, spearman } from '../../src/engine/analyses/correlation';
import { greedyStart, mixSoup, softmax } from '../../src/engine/analyses/learnedSoup';
import { mixWeights } from '../../src/engine/analyses/mixWeights';
import { SoupError } from '../../src/engine/errors';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { loadWeights } from '../../src/engine/soups/weights';
import * as path from 'node:path';
import type { ExampleModels } from './helpers/analysesContext';
import { exampleModels, reference } from './helpers/analysesContext';
import { EXAMPLE } from './helpers/paths';

/** Bitwise equality of two weight sets. */
function sameBits(a: ArrayLike<number>[], b: ArrayLike<number>[]): boolean {
  return a.length === b.length && a.every((t, i) => t.length === b[i].length && Array.prototype.every.call(t, (v: number, k: number) => Object.is(v, b[i][k])));
}

describe('Weight mixes and fine-tuning directions on the example zoo (no inference)', function () {
  this.timeout(300_000);
  let ctx: ExampleModels;
  before(async () => {
    ctx = await exampleModels();
  });

  it('WiSE-FT at α = 0 is exactly the pretrained model and at α = 1 exactly the soup; α = 0.5 is the float64 mix rounded once', async () => {
    const layout = ctx.ingredients[0].model;
    const theta0 = await loadWeights(ctx.pretrained);
    const at = (alpha: number) => mixWeights(layout, [{ source: ctx.pretrained, coef: 1 - alpha }, { source: ctx.greedyWeights, coef: alpha }]);
    assert.ok(sameBits(await at(0), theta0));
    assert.ok(sameBits(await at(1), ctx.greedyWeights));
    const half = await at(0.5);
    const want = theta0.map((t, i) => Float32Array.from(t, (v, k) => 0.5 * v + 0.5 * ctx.greedyWeights[i][k]));
    assert.ok(sameBits(half, want));
  });

  it('a learned soup that starts at the greedy soup starts at it bit for bit; other weights mix in float64', async () => {
    const start = greedyStart(ctx.ingredients, ctx.greedyMembers);
    assert.deepEqual(start.map((z) => z === 0), ctx.ingredients.map((i) => ctx.greedyMembers.includes(i.id)));
    const w = softmax(start);
    assert.equal(w.filter((x) => x === 0).length, 7);
    assert.ok(sameBits(await mixSoup(ctx.ingredients, w), ctx.greedyWeights));
    // Two models with weights 1/4, 3/4: sum_k w_k θ_k in float64, rounded to float32.
    const pair = ctx.ingredients.slice(0, 2);
    const [a, b] = await Promise.all(pair.map((p) => loadWeights(p.model)));
    const mixed = await mixSoup(pair, softmax([0, Math.log(3)]));
    const wz = softmax([0, Math.log(3)]);
    assert.ok(sameBits(mixed, a.map((t, i) => Float32Array.from(t, (v, k) => wz[0] * v + wz[1] * b[i][k]))));
  });

  it('refuses a mix of models of another architecture, naming the file', async () => {
    const other = await readOnnxModel(path.join(EXAMPLE, 'runs/ft-00/model.onnx'));
    const cut = { ...other, weights: other.weights.slice(1) };
    await assert.rejects(mixWeights(ctx.ingredients[0].model, [{ source: cut, coef: 1 }]), (e: unknown) => e instanceof SoupError && e.code === 'INCOMPATIBLE' && e.message.includes('ft-00'));
  });

  it('angles between fine-tuning directions match the reference for all 66 pairs within 1e-6 degrees', async () => {
    const ids = reference.ingredients;
    const models = ids.map((id) => ctx.ingredients.find((i) => i.id === id)?.model as (typeof ctx.ingredients)[number]['model']);
    const g = await directionGram(ctx.ingredients[0].model, ctx.pretrained, models);
    ids.forEach((id, i) => assert.ok(Math.abs(Math.sqrt(g.gram[i * g.k + i]) - reference.pairwise.l2_to_theta0[id]) < 1e-9, id));
    const pairs = pairGeometry(ids, g);
    assert.equal(pairs.length, 66);
    pairs.forEach((p, n) => {
      const r = reference.pairwise.pairs[n];
      assert.deepEqual([p.i, p.j], [r.i, r.j]);
      assert.ok(Math.abs(p.angleDeg - r.angle_deg) < 1e-6, `${p.i} · ${p.j}: ${p.angleDeg}° vs ${r.angle_deg}°`);
      assert.ok(Math.abs(p.cos - r.cos) < 1e-9);
      assert.ok(Math.abs(p.l2 - r.l2_i_j) < 1e-9);
    });
    // The cap keeps the smallest and the largest angle and spreads the rest between them.
    const picked = selectPairs(pairs, 5).map((i) => pairs[i].angleDeg);
    const angles = pairs.map((p) => p.angleDeg);
    assert.equal(picked.length, 5);
    assert.ok(picked.includes(Math.min(...angles)) && picked.includes(Math.max(...angles)));
    assert.equal(selectPairs(pairs, 100).length, 66);
    assert.equal(selectPairs(pairs, 0).length, 0);
  });
});

describe('Angle-vs-gain correlations', () => {
  it('Pearson and Spearman (average ranks on ties) match scipy on the reference\'s 66 and 45 pairs', () => {
    const all = reference.pairwise.pairs;
    for (const [name, pairs] of [['all_66_pairs', all], ['normal_lr_45_pairs', all.filter((p) => !p.any_bad_lr)]] as const) {
      for (const [key, gainKey] of [['gain_heldout', 'heldout'], ['gain_test', 'test'], ['gain_shift_avg', 'shift_avg']]) {
        const r = reference.pairwise.correlation_angle_vs_gain[name][key];
        const x = pairs.map((p) => p.angle_deg);
        const y = pairs.map((p) => p.gain[gainKey]);
        assert.ok(Math.abs(pearson(x, y) - r.pearson) < 1e-9, `${name} ${key} pearson`);
        assert.ok(Math.abs(spearman(x, y) - r.spearman) < 1e-9, `${name} ${key} spearman`);
      }
    }
    assert.deepEqual(averageRanks([3, 1, 3, 2]), [3.5, 1, 3.5, 2]);
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  });
});
