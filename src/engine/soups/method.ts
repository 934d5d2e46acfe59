import type { GreedyComparison } from '../config';
import type { OnnxModelInfo } from '../formats/onnxModel';
import type { GreedyStep } from '../report';
import type { WeightSet, WeightSum } from './weights';

/** An ingredient as a soup method sees it. */
export interface SoupIngredient {
  id: string;
  model: OnnxModelInfo;
  /** Held-out accuracy from the run's own metrics (what the paper sorts by). */
  heldout: number;
  /** Held-out correct count measured in this cook (undefined without a held-out set). */
  heldoutCorrect?: number;
}

/** What a soup method may use. */
export interface SoupContext {
  /** Sorted by held-out accuracy, best first, ties by id. */
  ingredients: SoupIngredient[];
  /** Size of the held-out set (undefined when none is configured). */
  heldoutN?: number;
  comparison: GreedyComparison;
  /** A fresh running sum over the architecture. */
  newSum(): WeightSum;
  /** Held-out correct count of a model with these weights. */
  scoreHeldout(weights: WeightSet): Promise<number>;
  signal?: AbortSignal;
  progress(done: number, total: number, message: string): void;
  /**
   * A weight set of the architecture's layout that the method may overwrite and return as its
   * result (its contents are not meaningful), so a cook allocates no extra model for the soup.
   */
  scratch?: WeightSet;
}

/** A method's result: who is in the soup and its averaged weights. */
export interface SoupOutcome {
  /** Member ids in the order they were added. */
  members: string[];
  steps: GreedyStep[];
  weights: WeightSet;
}

/** A declared parameter of a soup method (for help texts and UIs). */
export interface SoupParam {
  name: string;
  description: string;
}

/** A way to cook a soup. Add new methods to the registry. */
export interface SoupMethod {
  id: string;
  label: string;
  /** Where the method comes from. */
  reference: string;
  /** True when the method needs a held-out dataset. */
  needsHeldout: boolean;
  params: SoupParam[];
  cook(ctx: SoupContext): Promise<SoupOutcome>;
}
