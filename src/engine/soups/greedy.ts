import { SoupError } from '../errors';
import { formatPercent } from '../../shared/format';
import type { GreedyStep } from '../report';
import type { SoupCook, SoupIngredient } from './method';
import type { WeightSet } from './weights';

/**
 * Greedy soup (the paper's Algorithm 1): ingredients sorted by held-out accuracy; start with the
 * best; add each next candidate iff the held-out accuracy of the uniform average of the members
 * plus the candidate passes the comparison with the best so far (option `comparison`: `>=` in
 * the paper, `>` in the official code).
 *
 * Each candidate's mean is recomputed from the member files plus the candidate by the streamed
 * uniform mean (`ctx.mean`, StreamingMean), not kept as float64 running sums: the sums were two
 * models of resident memory and a scalar JS loop (0.11-0.17x memcpy, base + 3.8x one model),
 * while the streamed mean runs at about memcpy speed in the one weight set the cook already
 * holds (base + ~1.8x). The price is that a candidate reads every member again (members + 1
 * models instead of one); greedy soups keep few members (the paper: 5 of 72), and the float64
 * sum in member order, divided once, is the same arithmetic either way, so the means are bit
 * for bit those of the running sums (tested).
 */
export const cookGreedy: SoupCook = async (ctx) => {
  const held = ctx.heldout;
  if (!held) throw new SoupError('CONFIG_INVALID', 'greedy soup needs a held-out dataset');
  const strict = ctx.options.comparison === '>';
  const [first, ...rest] = ctx.ingredients;
  const n = held.n;
  const total = ctx.ingredients.length;
  const kept: SoupIngredient[] = [first];
  const meanOf = (models: readonly SoupIngredient[]) => ctx.mean(models.map((m) => m.model), scratch);
  // One set of weights for every candidate and the final soup; `scratchIsSoup` when it holds the members' mean.
  let scratch: WeightSet | undefined = ctx.scratch;
  let scratchIsSoup = false;
  let best = held.correct.get(first.id) ?? -1;
  if (best < 0) {
    scratch = await meanOf(kept);
    scratchIsSoup = true;
    best = await held.score(scratch);
  }
  const steps: GreedyStep[] = [{ candidate: first.id, heldout: best / n, correct: best, added: true }];
  ctx.progress(1, total, `greedy: 1/${total} ${first.id} — held-out ${formatPercent(best / n)}, start`);
  for (const [i, cand] of rest.entries()) {
    scratch = await meanOf([...kept, cand]);
    const correct = await held.score(scratch);
    const added = strict ? correct > best : correct >= best;
    steps.push({ candidate: cand.id, heldout: correct / n, correct, bestBefore: best, added });
    scratchIsSoup = added;
    if (added) {
      kept.push(cand);
      best = correct;
    }
    ctx.progress(i + 2, total, `greedy: ${i + 2}/${total} ${cand.id} — held-out ${formatPercent(correct / n)}, ${added ? 'kept' : 'rejected'}`);
  }
  return { members: kept.map((m) => m.id), steps, weights: scratchIsSoup && scratch ? scratch : await meanOf(kept) };
};
