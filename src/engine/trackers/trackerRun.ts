/**
 * What the experiment-tracker readers (TensorBoard event files, MLflow file stores, W&B run
 * folders) return: one shared record the discovery layer turns into a RunRecord once it has
 * chosen and read the weights.
 */
import type { HParamValue, MetricsSource } from '../discovery/runRecord';

/** Which tracker left the run. */
export type TrackerKind = 'tensorboard' | 'mlflow' | 'wandb';

/**
 * Where the held-out accuracy was read: `file` (workspace-relative, POSIX) and `field` (the
 * metric key, e.g. `val_acc`, `eval/accuracy`) as in a RunRecord, plus the training step the
 * value was logged at when the tracker records one.
 */
export interface TrackerMetricsSource extends MetricsSource {
  step?: number;
}

/** The weight formats a tracker run may hold (what the checkpoint readers take). */
export type WeightFormat = 'safetensors' | 'safetensors-index' | 'torch' | 'torch-index' | 'lightning-ckpt' | 'onnx';

/** A weights file found in a run, with what its name says about it. */
export interface WeightCandidate {
  /** Absolute path. */
  path: string;
  format: WeightFormat;
  /** From a Lightning checkpoint name (`epoch=E-step=S.ckpt`). */
  epoch?: number;
  step?: number;
}

/** One run as a tracker left it. Readers never throw for bad content: problems land in the fields below. */
export interface TrackerRun {
  kind: TrackerKind;
  /** Absolute path of the run folder. */
  dir: string;
  /** Run folder relative to the workspace root (POSIX; '.' for the root): the run's id. */
  id: string;
  /** The tracker's name for the run: the MLflow run name, the W&B run id. */
  runName?: string;
  /** Held-out accuracy in [0, 1]: the value that belongs to the saved weights. */
  heldout?: number;
  metricsSource?: TrackerMetricsSource;
  /** Why `heldout` is missing (names the file or folder); set exactly when `heldout` is not. */
  heldoutReason?: string;
  hparams: Record<string, HParamValue>;
  /** Weight files, the likeliest ingredient first; empty when the run holds none (see `weightsReason`). */
  weights: WeightCandidate[];
  /** Why `weights` is empty (names the folder searched). */
  weightsReason?: string;
  /** Absolute paths of the tracker files read (metadata, metrics, config). */
  files: string[];
  /** Tracker facts worth a tooltip: experiment name, run status, host, program, ... */
  details: Record<string, string>;
  /** Problems that left the run usable: skipped event records, unreadable config, ... (each names its file). */
  warnings: string[];
}
