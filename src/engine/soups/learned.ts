import { SoupError } from '../errors';
import { greedyStart, learnSoup } from '../analyses/learnedSoup';
import { DEFAULT_LEARNED_BUDGET } from '../analyses/settings';
import { formatPercent } from '../../shared/format';
import { cookGreedy } from './greedy';
import type { SoupCook } from './method';

/**
 * Learned soup: the greedy soup first, then mixing weights softmax(z) fitted on held-out NLL by
 * the compass search of analyses/learnedSoup.ts, starting at the greedy soup and accepting only
 * moves that keep its held-out correct count, so the learned soup is never less accurate on
 * held-out than the greedy soup. Weights are mixed streamed (memory flat in K). Its held-out
 * numbers are optimistic (it was fitted on them): test and shifts are the honest measures.
 */
export const cookLearned: SoupCook = async (ctx) => {
  const held = ctx.heldout;
  if (!held?.scoreNll) throw new SoupError('CONFIG_INVALID', 'a learned soup needs a held-out dataset');
  const scoreNll = held.scoreNll;
  const greedy = await cookGreedy(ctx);
  const floorCorrect = Math.max(...greedy.steps.filter((s) => s.added).map((s) => s.correct));
  const budget = typeof ctx.options.budget === 'number' ? ctx.options.budget : DEFAULT_LEARNED_BUDGET;
  const found = await learnSoup({
    ingredients: ctx.ingredients,
    start: greedyStart(ctx.ingredients, greedy.members),
    budget,
    floorCorrect,
    evaluateHeldout: scoreNll,
    // The greedy soup's weights are not needed any more: the search starts from the same soup.
    scratch: greedy.weights,
    signal: ctx.signal,
    onEvaluation: (used, total, best) => ctx.progress(used, total, `learned: ${used}/${total} — held-out ${formatPercent(best.correct / held.n, 2)}, NLL ${best.nll.toFixed(4)}`),
  });
  const members = ctx.ingredients.filter((_, k) => found.weights[k] > 0).map((i) => i.id);
  const mixWeights = Object.fromEntries(ctx.ingredients.map((i, k) => [i.id, found.weights[k]]));
  return { members, steps: greedy.steps, weights: found.soup, mixWeights };
};
