import type { SoupMethod } from './method';

/** Uniform soup: the mean of every ingredient's weights. */
export const uniformSoup: SoupMethod = {
  id: 'uniform',
  label: 'Uniform soup',
  reference: 'Wortsman et al., ICML 2022, "Model soups", section 3 (uniform soup)',
  needsHeldout: false,
  params: [],
  async cook(ctx) {
    const sum = ctx.newSum();
    const total = ctx.ingredients.length;
    for (const [i, ing] of ctx.ingredients.entries()) {
      await sum.add(ing.model, ctx.signal);
      ctx.progress(i + 1, total, `uniform: ${i + 1}/${total} ${ing.id} added`);
    }
    return { members: ctx.ingredients.map((i) => i.id), steps: [], weights: await sum.meanWith(undefined) };
  },
};
