import type { ExecutionDevice, GreedyComparison, SoupConfig } from './config';
import type { Analyses } from './analyses/types';
import type { HParamValue, MetricsSource, RunLayout, RunStatus } from './discovery/runRecord';

/** The version tag of `report.json`. Bump it on any incompatible change. */
export const REPORT_SCHEMA = 'model-soups/report@2';
/** Schemas the readers still accept: @1 is @2 without `analyses`. */
export const READABLE_REPORT_SCHEMAS: readonly string[] = ['model-soups/report@1', REPORT_SCHEMA];

/** File name of the report inside a soup folder. */
export const REPORT_FILE = 'report.json';
/** File name of the soup model inside its folder. */
export const SOUP_MODEL_FILE = 'soup.onnx';
/** The checkpoint soup's weights, beside `soup.onnx`, when the ingredients are checkpoints. */
export const SOUP_WEIGHTS_FILE = 'model.safetensors';

/**
 * Accuracy of one model on every configured dataset. Accuracies are fractions in [0, 1];
 * a dataset that is not configured is absent (`heldout`/`test` undefined, no shift key).
 */
export interface Metrics {
  heldout?: number;
  test?: number;
  shifts: Record<string, number>;
  /** Mean of `shifts` (undefined when there are none). */
  shiftAvg?: number;
  /** Correct predictions per dataset key (`heldout`, `test`, or the shift name). */
  correct: Record<string, number>;
}

/** One evaluation dataset as used by the cook. */
export interface DatasetInfo {
  /** Workspace-relative path, as configured. */
  path: string;
  n: number;
  /** `arrays` (.npz / .npy) or `folder` (images); absent in reports written before folders. */
  kind?: 'arrays' | 'folder';
  /** Distinct labels present, and the model's number of classes. */
  classesCovered?: number;
  classes?: number;
  /** Set when predictions were restricted to these class indices (a class-subset set). */
  subset?: number[];
  /** Folders: where the class order came from (`classes`, a config.json, `folder names`). */
  labels?: string;
  /** Folders: files not used (all counted, the first ones named with the reason). */
  skipped?: { count: number; files: { file: string; reason: string }[] };
  /** Folders: class folders that held no readable image. */
  emptyClasses?: string[];
}

/** One ingredient as reported: what was read from the run and how it scored here. */
export interface IngredientReport {
  id: string;
  layout: RunLayout;
  status: RunStatus;
  reason?: string;
  /** Problems that did not change the status, each naming its file. */
  warnings?: string[];
  /** Held-out accuracy as read from the run's metrics file (not recomputed). */
  heldout?: number;
  metricsSource?: MetricsSource;
  hparams: Record<string, HParamValue>;
  /** Workspace-relative model path. */
  model: string;
  /** Checkpoint runs: the weights file (workspace-relative), its format and float dtype. */
  weights?: { file: string; format: string; dtype?: string };
  /** Size in bytes and SHA-256 of the model file as read for this cook. */
  bytes?: number;
  sha256?: string;
  /** Metrics measured in this cook (only for evaluated, i.e. `ok`, ingredients). */
  metrics?: Metrics;
}

/** One greedy step: the soup tried with `candidate` added. The first step is the start. */
export interface GreedyStep {
  candidate: string;
  /** Held-out accuracy of the soup with the candidate. */
  heldout: number;
  /** Held-out correct count of the soup with the candidate. */
  correct: number;
  /** Held-out correct count of the soup before this step (undefined for the first step). */
  bestBefore?: number;
  added: boolean;
}

/** A comparison model: metrics plus what it is made of. */
export interface Baseline {
  /** Ingredient ids it is made of (one for the best individual). */
  members: string[];
  metrics: Metrics;
}

/** The report written next to every soup as `report.json`. */
export interface SoupReport {
  /** {@link REPORT_SCHEMA} when written; a read report may be an older readable one. */
  schema: string;
  /** Soup method id (`greedy`, `uniform`). */
  method: string;
  /** Soup folder name under the output folder. */
  name: string;
  createdAt: string;
  /** Absolute workspace path the cook ran in. */
  workspace: string;
  /** Options that change the result. */
  options: { comparison?: GreedyComparison; budget?: number; batchSize: number; scale: number; input: string; output: string; device?: ExecutionDevice };
  /** Things the user should know that did not stop the cook (e.g. CUDA unavailable, CPU used). */
  warnings?: string[];
  /** Dataset key (`heldout`, `test`, shift name) -> file and size. */
  datasets: Record<string, DatasetInfo>;
  shiftNames: string[];
  ingredients: IngredientReport[];
  soup: {
    /** Member ids in the order they were added. */
    members: string[];
    /** Workspace-relative path of the written soup model. */
    path: string;
    /** Checkpoint soups: workspace-relative path of `model.safetensors`. */
    weights?: string;
    metrics: Metrics;
    /** A learned soup's mixing weights per ingredient id (its held-out numbers are optimistic: it was fitted on them). */
    mixWeights?: Record<string, number>;
  };
  /** Checkpoint soups: how the graph's initializers map onto the checkpoint's tensors. */
  mapping?: {
    graph: string;
    reference: string;
    bindings: { initializer: string; tensor: string; transposed: boolean }[];
    keptConstants: { initializer: string; numel: number }[];
    unusedTensors: string[];
  };
  /** Greedy only: one entry per candidate in sorted order. Empty for uniform. */
  steps: GreedyStep[];
  baselines: {
    bestIndividual: Baseline;
    uniform: Baseline;
    ensemble: Baseline;
  };
  /** Wall time per phase in milliseconds. */
  timingsMs: Record<string, number>;
  /** Schema @2: the soup analyses that ran (calibration, WiSE-FT, angles, learned) and the ones skipped. */
  analyses?: Analyses;
  /** What `recook` needs beyond the fields above; absent in reports written before re-cook. */
  recipe?: CookRecipe;
}

/**
 * How the soup was cooked, as a re-cook reads it back: the config after every override (file,
 * CLI flags, settings), paths as written (workspace-relative). The ingredients are
 * `baselines.ensemble.members`, in the order the method considered them.
 */
export interface CookRecipe {
  /** `modelsoups.json` keys only: the user's own limits (allowedRoots, maxDatasetMB) are never recorded. */
  config: RecordedConfig;
}

/** The config as a report records it (and a re-cook validates it again, like a modelsoups.json). */
export type RecordedConfig = Omit<SoupConfig, 'allowedRoots' | 'maxDatasetMB'>;

/** The recorded part of `config`: everything but the limits only a user may set. */
export function recordedConfig(config: SoupConfig): RecordedConfig {
  const { allowedRoots: _roots, maxDatasetMB: _mb, ...recorded } = config;
  return recorded;
}
