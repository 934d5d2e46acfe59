import type { SoupMethod } from './method';
import { StreamingMean } from './streamingMean';

/** Uniform soup: the mean of every ingredient's weights, streamed chunk by chunk (see StreamingMean). */
export const uniformSoup: SoupMethod = {
  id: 'uniform',
  label: 'Uniform soup',
  reference: 'Wortsman et al., ICML 2022, "Model soups", section 3 (uniform soup)',
  needsHeldout: false,
  params: [],
  async cook(ctx) {
    const k = ctx.ingredients.length;
    const weights = await new StreamingMean().mean(
      ctx.ingredients.map((i) => i.model),
      { signal: ctx.signal, out: ctx.scratch, onTensor: (done, total) => ctx.progress(done, total, `uniform: averaging ${k} ingredients, tensor ${done}/${total}`) },
    );
    const tensors = weights.length;
    ctx.progress(tensors, tensors, `uniform: ${k}/${k} ingredients averaged`);
    return { members: ctx.ingredients.map((i) => i.id), steps: [], weights };
  },
};
