import type { CheckpointTable } from '../checkpoints/checkpointTable';
import type { OnnxModelInfo } from '../formats/onnxModel';
import type { FloatDtype } from '../formats/tensorDtypes';
import type { GreedyStep } from '../report';
import type { SoupMethodDescriptor } from './catalogue';
import type { WeightSet } from './weights';

/** An ingredient as a soup method sees it. */
export interface SoupIngredient {
  id: string;
  model: OnnxModelInfo;
  /** Held-out accuracy from the run's own metrics (what the paper sorts by). */
  heldout: number;
  /**
   * Checkpoint ingredients: the checkpoint read (its files are the ones fingerprinted) and the
   * stored dtype behind each graph weight; `model` is then the graph pointing at its weights in
   * graph space (see checkpoints/graphSpace.ts).
   */
  checkpoint?: { table: CheckpointTable; dtypes: (FloatDtype | undefined)[] };
}

/** A value of a declared method option (see {@link SoupMethodDescriptor.options}). */
export type MethodOptionValue = string | number | boolean;

/** The held-out dataset, for methods that declare `needs.heldout`. */
export interface HeldoutScorer {
  /** Number of examples. */
  n: number;
  /** Held-out correct count of each ingredient, as measured in the cook's evaluate phase. */
  correct: ReadonlyMap<string, number>;
  /** Held-out correct count of a model with these weights. */
  score(weights: WeightSet): Promise<number>;
  /** Held-out NLL (at T = 1) and correct count of a model with these weights (the learned soup's objective). */
  scoreNll?(weights: WeightSet): Promise<{ nll: number; correct: number }>;
}

/** What a soup method may use. */
export interface SoupContext {
  /** Sorted by held-out accuracy, best first, ties by id. */
  ingredients: SoupIngredient[];
  /** The values of the options the method declares, by name (absent when not set). */
  options: Readonly<Record<string, MethodOptionValue | undefined>>;
  /** Present when the method declares `needs.heldout`. */
  heldout?: HeldoutScorer;
  /**
   * The uniform mean of `models` (member order: the float64 sum from the first, divided once and
   * rounded to float32), as a soup of exactly these models would store it (the precision rule of
   * checkpoints/storedPrecision.ts), written into `out` when given. Streamed (StreamingMean):
   * memory is `out` plus a few chunks, whatever the number of models.
   */
  mean(models: readonly OnnxModelInfo[], out?: WeightSet): Promise<WeightSet>;
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
  /** One per candidate tried, for methods that declare `produces.steps`; empty otherwise. */
  steps: GreedyStep[];
  weights: WeightSet;
  /** Ingredient id -> its weight in the soup, for a weighted (learned) soup; absent for a mean of the members. */
  mixWeights?: Record<string, number>;
}

/**
 * The code of a soup method (worker side only: implementations may use the averaging code).
 * What it needs and produces is declared by its {@link SoupMethodDescriptor} in the catalogue.
 */
export type SoupCook = (ctx: SoupContext) => Promise<SoupOutcome>;

/** A catalogued method with its code, as the cook uses it. */
export interface SoupMethod extends SoupMethodDescriptor {
  cook: SoupCook;
}
