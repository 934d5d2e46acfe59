import type { SoupMethodId } from './catalogue';
import { findSoupMethod } from './catalogue';
import { cookGreedy } from './greedy';
import { cookLearned } from './learned';
import type { SoupCook, SoupMethod } from './method';
import { cookUniform } from './uniform';

// The implementation of every catalogued method, one line each (the type refuses a missing one).
// Cook side only: the extension host and the CLI use the catalogue, never this file.
const implementations: Readonly<Record<SoupMethodId, SoupCook>> = {
  greedy: cookGreedy,
  uniform: cookUniform,
  learned: cookLearned,
};

/** A method's descriptor and code by id; CONFIG_INVALID naming the known ids otherwise. */
export function getSoupMethod(id: string): SoupMethod {
  const descriptor = findSoupMethod(id);
  return { ...descriptor, cook: implementations[descriptor.id as SoupMethodId] };
}
