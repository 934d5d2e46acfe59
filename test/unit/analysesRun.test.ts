import * as assert from 'node:assert/strict';
import type { HeldoutScore } from '../../src/engine/analyses/learnedSoup';
import { learnSoup } from '../../src/engine/analyses/learnedSoup';
import { evaluateModel } from '../../src/engine/analyses/modelEvaluation';
import { runAnalyses, SOUP } from '../../src/engine/analyses/runAnalyses';
import type { Analyses } from '../../src/engine/analyses/types';
import { SoupError } from '../../src/engine/errors';
import type { EvalDataset } from '../../src/engine/datasets/evalDataset';
import { expected } from './helpers/expected';
import type { AnalysesContext } from './helpers/analysesContext';
import { analysesContext, analysesInput, reference } from './helpers/analysesContext';

describe('WiSE-FT, 2-soups and the learned soup on the fashion-soup example (against the PyTorch reference)', function () {
  this.timeout(900_000);
  let ctx: AnalysesContext;
  before(async () => {
    ctx = await analysesContext();
  });

  it('WiSE-FT: every correct count of both curves (soup, best individual) equals the reference, and so do the best alphas', async () => {
    const a: Analyses = await runAnalyses(analysesInput(ctx, { run: ['wiseft'] }));
    const w = a.wiseFt;
    assert.ok(w);
    assert.deepEqual(w.settings.alphas, reference.wise_ft.alphas);
    for (const [curve, ref] of [
      [w.curves[0], reference.wise_ft.greedy_soup],
      [w.curves[1], reference.wise_ft.best_individual],
    ] as const) {
      assert.equal(curve.endpoint, ref.endpoint === 'greedy_soup' ? SOUP : ref.endpoint);
      assert.deepEqual(curve.points.map((p) => p.correct), ref.points.map((p) => p.correct), curve.endpoint);
      curve.points.forEach((p, i) => {
        assert.ok(Math.abs((p.shiftAvgAcc as number) - ref.points[i].shift_avg_acc) < 1e-12);
        for (const key of reference.eval_order) assert.ok(Math.abs(p.nll[key] - ref.points[i].nll[key]) < 1e-6, `${curve.endpoint} α=${p.alpha} ${key} NLL`);
      });
      for (const [ours, theirs] of [['heldout', 'heldout'], ['test', 'test'], ['shiftAvg', 'shift_avg_acc'], ['rotate', 'rotate']]) {
        assert.equal(curve.bestAlpha[ours].alpha, ref.best_alpha[theirs].alpha, `${curve.endpoint} best α for ${ours}`);
        assert.ok(Math.abs(curve.bestAlpha[ours].value - ref.best_alpha[theirs].value) < 1e-12);
      }
    }
    // α = 0 and α = 1 are the pretrained model and the endpoints: 9 mixed points per curve, plus one
    // evaluation each of the pretrained model and the soup (the best individual comes from the book).
    assert.equal(w.cost.weightMixes, 18);
    assert.equal(w.cost.forwardPasses, (18 + 2) * 7);
  });

  it('2-soups: evaluates only the capped pairs, with counts and gains equal to the reference, and says how many', async () => {
    const a = await runAnalyses(analysesInput(ctx, { run: ['angles'], maxPairs: 3 }));
    const g = a.angles;
    assert.ok(g);
    assert.equal(g.pairsTotal, 66);
    assert.equal(g.pairsEvaluated, 3);
    assert.equal(g.settings.selection, 'evenly spaced in order of angle');
    assert.equal(g.cost.forwardPasses, 3 * 7);
    assert.equal(g.angleMatrix.length, 144);
    const evaluated = g.pairs.filter((p) => p.soup);
    assert.equal(evaluated.length, 3);
    for (const p of evaluated) {
      const r = reference.pairwise.pairs.find((x) => (x.i === p.i && x.j === p.j) || (x.i === p.j && x.j === p.i));
      assert.ok(r && p.soup);
      assert.deepEqual(p.soup.correct, r.soup_correct, `${p.i} + ${p.j}`);
      for (const key of [...reference.eval_order, 'shift_avg']) assert.ok(Math.abs(p.soup.gain[key === 'shift_avg' ? 'shiftAvg' : key] - r.gain[key]) < 1e-12, `${p.i} + ${p.j} gain ${key}`);
      assert.ok(Math.abs(p.angleDeg - r.angle_deg) < 1e-6);
    }
    // Three pairs are enough for a correlation; it is reported with its sample size.
    assert.equal(g.correlation.heldout.n, 3);
  });

  it('the compass search follows the reference\'s path from the uniform soup (its first 17 evaluations)', async () => {
    const heldout = ctx.datasets.find((d) => d.key === 'heldout') as EvalDataset;
    const order = reference.learned_soup.parameter_order;
    assert.deepEqual(order, ctx.ingredients.map((i) => i.id));
    const budget = 17;
    const found = await learnSoup({
      ingredients: ctx.ingredients,
      start: order.map(() => 0),
      budget,
      evaluateHeldout: async (w): Promise<HeldoutScore> => {
        const h = (await evaluateModel(ctx.evaluator, w, [heldout])).evaluation.heldout;
        return { nll: h.nll, correct: h.correct };
      },
    });
    assert.equal(found.evaluationsUsed, budget);
    const want = reference.learned_soup.derivative_free.trace_improvements.filter((t) => t.eval <= budget);
    assert.ok(want.length >= 5);
    assert.deepEqual(found.trace.map((t) => [t.evaluation, t.heldoutCorrect, t.step]), want.map((t) => [t.eval, t.heldout_correct, t.step]));
    found.trace.forEach((t, i) => assert.ok(Math.abs(t.nll - want[i].nll) < 1e-6, `evaluation ${t.evaluation}: NLL ${t.nll} vs ${want[i].nll}`));
  });

  it('the learned soup starts at the greedy soup and never ends below its held-out accuracy', async () => {
    const budget = 12;
    const a = await runAnalyses(analysesInput(ctx, { run: ['learned'], learnedBudget: budget, learnedStart: 'greedy' }));
    const l = a.learned;
    assert.ok(l);
    const greedyHeldout = expected.greedy_soup.correct.heldout;
    assert.equal(l.floorCorrect, greedyHeldout);
    // The start is the greedy soup itself: its held-out count and NLL.
    assert.equal(l.trace[0].heldoutCorrect, greedyHeldout);
    assert.ok(Math.abs(l.trace[0].nll - reference.learned_soup.reference.greedy_soup.heldout_nll) < 1e-6);
    assert.ok(l.trace.every((t) => t.heldoutCorrect >= greedyHeldout));
    assert.ok(l.heldoutCorrect >= greedyHeldout);
    assert.ok(l.heldoutNll <= l.trace[0].nll);
    // The reported soup is the one that was scored.
    assert.equal(l.correct.heldout, l.heldoutCorrect);
    assert.equal(l.evaluationsUsed, budget);
    assert.ok(Math.abs(Object.values(l.weights).reduce((s, x) => s + x, 0) - 1) < 1e-12);
    assert.match(l.note, /optimistic/);
    assert.equal(l.cost.forwardPasses, 7 + budget + 7);
  });

  it('lists the analyses that cannot run and why, and refuses a cancelled run', async () => {
    const input = analysesInput(ctx, { run: ['wiseft', 'angles'] });
    const a = await runAnalyses({ ...input, pretrained: undefined });
    assert.deepEqual(a.skipped.map((s) => s.id), ['wiseft', 'angles']);
    assert.match(a.skipped[0].reason, /pretrained/);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(runAnalyses({ ...input, signal: ac.signal }), (e: unknown) => e instanceof SoupError && e.code === 'CANCELLED');
  });
});
