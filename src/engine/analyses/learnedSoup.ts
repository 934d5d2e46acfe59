import { throwIfAborted } from '../errors';
import type { OnnxModelInfo } from '../formats/onnxModel';
import type { WeightSet } from '../soups/weights';
import type { MixTerm } from './mixWeights';
import { mixWeights } from './mixWeights';
import type { LearnedTraceEntry } from './types';

/** An ingredient of a learned soup. */
export interface LearnedIngredient {
  id: string;
  model: OnnxModelInfo;
}

/** A soup's held-out score: what the search minimises (NLL) and what it may protect (correct). */
export interface HeldoutScore {
  nll: number;
  correct: number;
}

/** Options of {@link learnSoup}. */
export interface LearnSoupOptions {
  /** Ingredients in parameter order (the order of z and of the sweeps). */
  ingredients: LearnedIngredient[];
  /** Held-out NLL (at T = 1) and correct count of a soup. */
  evaluateHeldout: (weights: WeightSet) => Promise<HeldoutScore>;
  /**
   * Starting z, one per ingredient; `-Infinity` leaves an ingredient out (weight exactly 0).
   * {@link greedyStart} starts at a greedy soup, all zeros at the uniform soup.
   */
  start: number[];
  /** NLL evaluations in all, the start's included. Default 200. */
  budget?: number;
  /** Default 1. */
  initialStep?: number;
  /** The search stops when the step falls below this. Default 1/64. */
  minStep?: number;
  /** When set, a move is accepted only if its held-out correct count is at least this. */
  floorCorrect?: number;
  /** A weight set of the layout to mix into (overwritten; the result is returned in it). */
  scratch?: WeightSet;
  signal?: AbortSignal;
  onEvaluation?: (used: number, budget: number, best: HeldoutScore) => void;
}

/** What {@link learnSoup} found. */
export interface LearnedSoup {
  /** The best z (−Infinity for an ingredient left out). */
  z: number[];
  /** softmax(z). */
  weights: number[];
  score: HeldoutScore;
  evaluationsUsed: number;
  /** Sweeps begun. */
  sweeps: number;
  finalStep: number;
  /** The start and every accepted move. */
  trace: LearnedTraceEntry[];
  /** The soup of the best z (in `scratch` when given). */
  soup: WeightSet;
}

/** z that reproduces a soup of `members` (uniform over them, the rest left out). */
export function greedyStart(ingredients: LearnedIngredient[], members: string[]): number[] {
  const m = new Set(members);
  return ingredients.map((i) => (m.has(i.id) ? 0 : -Infinity));
}

/** softmax(z) in float64; an ingredient at −Infinity gets exactly 0. */
export function softmax(z: number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * The soup sum_k w_k θ_k (float64, rounded to float32), streamed one chunk of each ingredient
 * at a time, so memory is flat in K. When the non-zero weights are all equal the soup is
 * computed as a mean (float64 sum divided once), bit for bit the uniform/greedy soup of those
 * ingredients, so a search that starts at a greedy soup starts exactly at it.
 */
export async function mixSoup(ingredients: LearnedIngredient[], weights: number[], out?: WeightSet, signal?: AbortSignal): Promise<WeightSet> {
  const used = weights.map((w, k) => ({ w, k })).filter((t) => t.w !== 0);
  const uniform = used.every((t) => t.w === used[0].w);
  const terms: MixTerm[] = used.map((t) => ({ source: ingredients[t.k].model, coef: uniform ? 1 : t.w }));
  return mixWeights(ingredients[0].model, terms, { out, divisor: uniform ? used.length : 1, signal });
}

/**
 * A learned soup without gradients (onnxruntime has no autograd): mixing weights softmax(z)
 * fitted on held-out NLL by a deterministic compass search. From `start` with step 1, each sweep
 * goes over the ingredients in order: try z + step·e_k and accept it if the NLL is strictly lower;
 * otherwise try z − step·e_k likewise. After a sweep without an accepted move the step halves.
 * It stops when `budget` evaluations are used (the start's included) or the step falls below
 * `minStep`. An ingredient left out (z = −∞) can only be tried in, at one step below the smallest
 * weight in the soup. With `floorCorrect`, a move must also keep the held-out correct count at
 * or above it: starting from the greedy soup with its count as the floor, the learned soup is
 * never less accurate on held-out than the greedy soup.
 */
export async function learnSoup(opts: LearnSoupOptions): Promise<LearnedSoup> {
  const { ingredients, signal } = opts;
  const budget = opts.budget ?? 200;
  const minStep = opts.minStep ?? 1 / 64;
  let step = opts.initialStep ?? 1;
  if (opts.start.length !== ingredients.length) throw new RangeError(`start has ${opts.start.length} values for ${ingredients.length} ingredients`);
  if (opts.start.every((v) => v === -Infinity)) throw new RangeError('the start leaves every ingredient out');
  let scratch = opts.scratch;
  let used = 0;
  const score = async (z: number[]): Promise<HeldoutScore> => {
    throwIfAborted(signal);
    scratch = await mixSoup(ingredients, softmax(z), scratch, signal);
    used++;
    return opts.evaluateHeldout(scratch);
  };
  let z = [...opts.start];
  let best = await score(z);
  const trace: LearnedTraceEntry[] = [{ evaluation: 1, nll: best.nll, heldoutCorrect: best.correct, step: null }];
  opts.onEvaluation?.(used, budget, best);
  let sweeps = 0;
  while (used < budget && step >= minStep) {
    sweeps++;
    let moved = false;
    let cut = false;
    for (let k = 0; k < z.length && !cut; k++) {
      for (const dir of [1, -1]) {
        if (z[k] === -Infinity && dir < 0) continue;
        if (used >= budget) {
          cut = true;
          break;
        }
        const next = [...z];
        next[k] = z[k] === -Infinity ? Math.min(...z.filter((v) => v !== -Infinity)) - step : z[k] + dir * step;
        const s = await score(next);
        opts.onEvaluation?.(used, budget, best);
        if (s.nll < best.nll && (opts.floorCorrect === undefined || s.correct >= opts.floorCorrect)) {
          z = next;
          best = s;
          moved = true;
          trace.push({ evaluation: used, nll: s.nll, heldoutCorrect: s.correct, step });
          break;
        }
      }
    }
    // Only a whole sweep without a move halves the step (not one cut short by the budget).
    if (!moved && !cut) step /= 2;
  }
  // The last evaluation may have been a rejected move: mix the best soup again (no evaluation).
  const weights = softmax(z);
  const soup = await mixSoup(ingredients, weights, scratch, signal);
  return { z, weights, score: best, evaluationsUsed: used, sweeps, finalStep: step, trace, soup };
}
