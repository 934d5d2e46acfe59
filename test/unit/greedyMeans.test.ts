import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { cookGreedy } from '../../src/engine/soups/greedy';
import { StreamingMean } from '../../src/engine/soups/streamingMean';
import type { WeightSet } from '../../src/engine/soups/weights';
import { loadWeights } from '../../src/engine/soups/weights';
import { exampleModels } from './helpers/analysesContext';
import { expected } from './helpers/expected';
import { inMemoryMean } from './helpers/members';
import { EXAMPLE } from './helpers/paths';

/** Bit-for-bit equality of two weight sets (NaN-safe, -0 distinct from +0). */
function assertSameBits(got: WeightSet, want: WeightSet, where: string): void {
  assert.equal(got.length, want.length, where);
  got.forEach((t, i) => {
    const a = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    const b = new Uint8Array(want[i].buffer, want[i].byteOffset, want[i].byteLength);
    assert.ok(Buffer.compare(a, b) === 0, `${where}: tensor ${i} differs`);
  });
}

describe('greedy soup means (streamed from the member files)', function () {
  this.timeout(120_000);

  it('scores every candidate with, and returns, the float64 in-memory mean of the members so far, bit for bit', async () => {
    const { ingredients } = await exampleModels();
    const weights = new Map<string, WeightSet>();
    for (const ing of ingredients) weights.set(ing.id, await loadWeights(ing.model));
    const evaluator = await Evaluator.create(ingredients[0].model, { batchSize: 1000 });
    const heldout = await openArrayFiles('heldout', 'data/heldout_val.npz', EXAMPLE);
    const scored: WeightSet[] = [];
    try {
      const outcome = await cookGreedy({
        ingredients: ingredients.map((i) => ({ ...i, heldout: 0 })),
        options: { comparison: '>=' },
        heldout: {
          n: heldout.n,
          // Empty: the first member's mean is scored too, so every mean greedy makes is checked.
          correct: new Map(),
          score: async (w) => {
            scored.push(w.map((t) => t.slice()));
            return (await evaluator.run(w, heldout)).correct;
          },
        },
        mean: (models, out) => new StreamingMean({ chunkElems: 4096 }).mean([...models], { out }),
        progress: () => undefined,
      });
      // Real greedy behaviour on real weights: the reference's members, some kept, some rejected.
      assert.deepEqual(outcome.members, expected.greedy_soup.members);
      assert.deepEqual(outcome.steps.map((s) => s.added), [true, ...expected.greedy_soup.steps.slice(1).map((s) => s.accepted)]);
      assert.ok(outcome.steps.some((s) => !s.added) && outcome.members.length > 2);
      assert.equal(scored.length, ingredients.length);
      // Replay: step k scores the members kept before it plus its candidate.
      const kept: string[] = [];
      outcome.steps.forEach((step, k) => {
        assertSameBits(scored[k], inMemoryMean([...kept, step.candidate].map((id) => weights.get(id) as WeightSet)), `candidate ${k} (${step.candidate})`);
        if (step.added) kept.push(step.candidate);
      });
      assertSameBits(outcome.weights, inMemoryMean(kept.map((id) => weights.get(id) as WeightSet)), 'the soup');
      // Not vacuous: a mean of float32-rounded partial sums differs from the float64 one.
      const ws = kept.map((id) => weights.get(id) as WeightSet);
      const t = ws[0].findIndex((x) => x.length > 1000);
      const rounded = ws[0][t].map((_, j) => Math.fround(ws.reduce((s, w) => Math.fround(s + w[t][j]), 0) / ws.length));
      assert.notDeepEqual(Array.from(outcome.weights[t]), Array.from(rounded));
    } finally {
      await evaluator.release();
    }
  });

  it('returns the last kept candidate\'s mean as the soup without averaging again, and averages when the last was rejected', async () => {
    const { ingredients } = await exampleModels();
    const three = ingredients.slice(0, 3).map((i) => ({ ...i, heldout: 0 }));
    for (const verdicts of [[5, 5], [5, 4]]) {
      const calls: string[][] = [];
      let step = 0;
      const outcome = await cookGreedy({
        ingredients: three,
        options: { comparison: '>=' },
        heldout: { n: 10, correct: new Map([[three[0].id, 5]]), score: async () => verdicts[step++] },
        mean: (models, out) => {
          calls.push(models.map((m) => path.relative(EXAMPLE, path.dirname(m.path))));
          return new StreamingMean().mean([...models], { out });
        },
        progress: () => undefined,
      });
      const soup = verdicts[1] === 5 ? [three[0].id, three[1].id, three[2].id] : [three[0].id, three[1].id];
      assert.deepEqual(outcome.members, soup);
      const candidates = [[three[0].id, three[1].id], [three[0].id, three[1].id, three[2].id]];
      assert.deepEqual(calls, verdicts[1] === 5 ? candidates : [...candidates, soup]);
      assertSameBits(outcome.weights, inMemoryMean(await Promise.all(soup.map((id) => loadWeights(ingredients.find((i) => i.id === id)!.model)))), verdicts.join(','));
    }
  });
});
