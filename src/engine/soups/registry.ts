import { SoupError } from '../errors';
import { greedySoup } from './greedy';
import type { SoupMethod } from './method';
import { uniformSoup } from './uniform';

/** Every soup method the engine offers, in menu order. */
export const soupMethods: readonly SoupMethod[] = [greedySoup, uniformSoup];

/** Looks a method up by id; CONFIG_INVALID naming the known ids otherwise. */
export function getSoupMethod(id: string): SoupMethod {
  const m = soupMethods.find((s) => s.id === id);
  if (!m) throw new SoupError('CONFIG_INVALID', `unknown soup method "${id}" (known: ${soupMethods.map((s) => s.id).join(', ')})`);
  return m;
}
