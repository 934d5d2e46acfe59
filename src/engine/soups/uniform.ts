import type { SoupCook } from './method';
import { StreamingMean } from './streamingMean';

/** Uniform soup: the mean of every ingredient's weights, streamed chunk by chunk (see StreamingMean). */
export const cookUniform: SoupCook = async (ctx) => {
  const k = ctx.ingredients.length;
  const weights = await new StreamingMean().mean(
    ctx.ingredients.map((i) => i.model),
    { signal: ctx.signal, out: ctx.scratch, onTensor: (done, total) => ctx.progress(done, total, `uniform: averaging ${k} ingredients, tensor ${done}/${total}`) },
  );
  const tensors = weights.length;
  ctx.progress(tensors, tensors, `uniform: ${k}/${k} ingredients averaged`);
  return { members: ctx.ingredients.map((i) => i.id), steps: [], weights };
};
