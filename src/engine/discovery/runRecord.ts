/** The run-directory layouts the scanner recognises. */
export type RunLayout = 'hf' | 'lightning' | 'plain' | 'mlflow' | 'wandb';

/**
 * How a run's weights are stored. `onnx`: a self-contained ONNX model (its own graph);
 * every other format holds only tensors and is evaluated through the configured `graph`.
 */
export type WeightsFormat = 'onnx' | 'safetensors' | 'safetensors-sharded' | 'torch' | 'torch-sharded';

/** The weights file a run's ingredient is read from. */
export interface RunWeights {
  /** Absolute path: the weights file, or the `*.index.json` of a sharded set. */
  file: string;
  format: WeightsFormat;
  /**
   * Storage dtype of the float tensors (`f32`, `f16`, `bf16`, `f64`, or `mixed`), known once the
   * file's tensor table has been read (see `inspectWorkspace`).
   */
  dtype?: string;
}

/**
 * `ok`: scored and loadable; `unscored`: no usable held-out accuracy (missing file, NaN, ...);
 * `incompatible`: its architecture differs from the group being souped; `unreadable`: its model
 * file cannot be parsed. `reason` says why for every status but `ok`.
 */
export type RunStatus = 'ok' | 'unscored' | 'incompatible' | 'unreadable';

/** A hyperparameter value as read from a run's files (nested values are kept as JSON). */
export type HParamValue = string | number | boolean | null | HParamValue[] | { [key: string]: HParamValue };

/** Where a run's held-out accuracy was read: a workspace-relative POSIX path and the field name. */
export interface MetricsSource {
  file: string;
  field: string;
}

/** One fine-tuning run found in the workspace: one soup ingredient candidate. */
export interface RunRecord {
  /** Folder path relative to the workspace root, POSIX separators (e.g. `runs/ft-07`). */
  id: string;
  layout: RunLayout;
  /** Absolute path of the run folder. */
  dir: string;
  /** Absolute path of the file that is this run's ingredient (equal to `weights.file` when set). */
  modelPath: string;
  /** Where the weights come from; absent for a run whose ingredient is a self-contained ONNX model. */
  weights?: RunWeights;
  /** The experiment tracker's name for the run (MLflow run name, W&B run id), shown beside the id. */
  runName?: string;
  /** Absolute paths of the files that describe the run (metrics, config, weights). */
  files: string[];
  /** Held-out accuracy as a fraction in [0, 1], as the run's own metrics state it. */
  heldout?: number;
  metricsSource?: MetricsSource;
  hparams: Record<string, HParamValue>;
  status: RunStatus;
  reason?: string;
  /** For HF runs with `checkpoint-N/` folders: the checkpoint folder name that was chosen. */
  checkpoint?: string;
  /** Problems that did not change the status (e.g. an unreadable `hparams.yaml`), each naming its file. */
  warnings?: string[];
  /** Architecture group key, set once the model has been read (see `inspectRuns`). */
  architecture?: string;
}
