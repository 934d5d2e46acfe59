import type { DatasetOptions, DatasetSource } from '../config';
import type { LabelMap } from './labelMap';
import type { PreprocessingSpec } from './preprocessing';

/** The dataset kinds, one reader each. */
export type DatasetKind = 'arrays' | 'folder';

/** One file a folder reader did not use, and why. */
export interface SkippedFile {
  /** Path relative to the dataset folder. */
  file: string;
  reason: string;
}

/**
 * An evaluation dataset as the evaluator sees it, whatever its kind: labels in memory, inputs
 * by batch (a folder's pixels are never all in memory).
 */
export interface EvalDataset {
  /** `heldout`, `test`, or the shift name. */
  key: string;
  kind: DatasetKind;
  /** Workspace-relative path as configured. */
  path: string;
  /** Absolute path. */
  file: string;
  /** Shape of the whole input, first axis = examples. */
  xShape: number[];
  y: Int32Array;
  n: number;
  /**
   * Sorted class indices the predictions are restricted to (argmax over these logits only), for
   * shift sets that cover part of the classes; undefined = all classes.
   */
  subset?: number[];
  /** Number of distinct labels present. */
  classesCovered: number;
  /** Folder kind: files skipped (counted; the first ones listed) and empty class folders. */
  skipped?: { count: number; files: SkippedFile[] };
  emptyClasses?: string[];
  /** Inputs of examples [start, start + count) as float32, laid out as `xShape`. */
  readBatch(start: number, count: number): Promise<Float32Array>;
  /** Frees what the reader holds (open files); idempotent. */
  close(): Promise<void>;
}

/** What a reader needs besides the entry itself. */
export interface DatasetContext {
  workspace: string;
  /** Graph input name, for messages. */
  inputName: string;
  /** Graph input dimensions (first = batch); strings and null are symbolic. */
  inputDims: (number | string | null)[];
  /** `scale` of the config, for array files. */
  scale?: number;
  /** Memory budget of one array dataset while it loads, in MiB (the engine's default when unset). */
  maxDatasetMB?: number;
  /** Class order for folders; undefined = sorted folder names of every folder dataset. */
  labelMap?: LabelMap;
  /** Top-level `preprocessing` merged over `preprocessor_config.json` defaults. */
  preprocessing: PreprocessingSpec;
  /** Images decoded at a time. */
  batchSize: number;
  signal?: AbortSignal;
  /** Told after each decoded batch of a folder. */
  onProgress?: (done: number, total: number) => void;
}

/** One reader per dataset kind. */
export interface DatasetReader {
  kind: DatasetKind;
  /** Opens the entry (`source` is the path or `{x, y}` pair; `options` its per-set settings). */
  open(key: string, source: DatasetSource, options: Omit<DatasetOptions, 'path'>, ctx: DatasetContext): Promise<EvalDataset>;
}
