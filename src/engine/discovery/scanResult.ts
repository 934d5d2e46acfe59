import type { SkippedPath } from './linkPolicy';
import type { RunRecord } from './runRecord';

/** A set of runs whose models share one architecture (weights' names, shapes, dtypes and graph). */
export interface ArchitectureGroup {
  /** Stable key (a hash of the architecture). */
  key: string;
  /** Short human label, e.g. "8 weights, 105,866 parameters". */
  label: string;
  parameterCount: number;
  runIds: string[];
}

/** Everything discovery knows about a workspace, ready for a tree view or a cook. */
export interface WorkspaceScan {
  workspace: string;
  /** All runs found, sorted by held-out accuracy (best first; unscored last; ties by id). */
  runs: RunRecord[];
  /** The group that soups are cooked from (the largest group of scored runs). */
  primaryGroup?: string;
  groups: ArchitectureGroup[];
  /** The configured pretrained/reference model, shown apart, never an ingredient. */
  pretrained?: { path: string; id: string; architecture?: string; reason?: string };
  /** Folders and links the scan did not enter (links leaving the workspace, unlistable folders, non-UTF-8 names), with the reason. */
  skipped?: SkippedPath[];
}
