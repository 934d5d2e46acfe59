import { SoupError } from '../errors';
import { formatPercent } from '../../shared/format';
import type { GreedyStep } from '../report';
import type { SoupCook } from './method';
import type { WeightSet } from './weights';

/**
 * Greedy soup (the paper's Algorithm 1): ingredients sorted by held-out accuracy; start with the
 * best; add each next candidate iff the held-out accuracy of the uniform average of the members
 * plus the candidate passes the comparison with the best so far (option `comparison`: `>=` in
 * the paper, `>` in the official code).
 */
export const cookGreedy: SoupCook = async (ctx) => {
  const held = ctx.heldout;
  if (!held) throw new SoupError('CONFIG_INVALID', 'greedy soup needs a held-out dataset');
  const strict = ctx.options.comparison === '>';
  const [first, ...rest] = ctx.ingredients;
  const n = held.n;
  const total = ctx.ingredients.length;
  const sum = ctx.newSum();
  await sum.add(first.model, ctx.signal);
  // One set of weights for every candidate and the final soup (besides the float64 sums).
  let scratch: WeightSet | undefined = ctx.scratch;
  let best = held.correct.get(first.id) ?? (await held.score((scratch = await sum.meanWith(undefined, scratch))));
  const members = [first.id];
  const steps: GreedyStep[] = [{ candidate: first.id, heldout: best / n, correct: best, added: true }];
  ctx.progress(1, total, `greedy: 1/${total} ${first.id} — held-out ${formatPercent(best / n)}, start`);
  for (const [i, cand] of rest.entries()) {
    scratch = await sum.meanWith(cand.model, scratch, ctx.signal);
    const correct = await held.score(scratch);
    const added = strict ? correct > best : correct >= best;
    steps.push({ candidate: cand.id, heldout: correct / n, correct, bestBefore: best, added });
    if (added) {
      await sum.add(cand.model, ctx.signal);
      members.push(cand.id);
      best = correct;
    }
    ctx.progress(i + 2, total, `greedy: ${i + 2}/${total} ${cand.id} — held-out ${formatPercent(correct / n)}, ${added ? 'kept' : 'rejected'}`);
  }
  return { members, steps, weights: await sum.meanWith(undefined, scratch) };
};
