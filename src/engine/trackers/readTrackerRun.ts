/**
 * One entry point over the tracker readers: which tracker left a folder, and its run.
 */
import type { RunFolder } from '../discovery/runFolder';
import { isMlflowRun, readMlflowRun } from './mlflowRun';
import type { TensorBoardReadOptions } from './tensorboardRun';
import { isTensorBoardRun, readTensorBoardRun } from './tensorboardRun';
import type { TrackerKind, TrackerRun } from './trackerRun';
import { isWandbRun, readWandbRun } from './wandbRun';

/** The tracker that left `folder` (from its listing alone, no reads): MLflow, then W&B, then TensorBoard. */
export function detectTracker(folder: RunFolder): TrackerKind | undefined {
  if (isMlflowRun(folder)) return 'mlflow';
  if (isWandbRun(folder)) return 'wandb';
  if (isTensorBoardRun(folder)) return 'tensorboard';
  return undefined;
}

/** Reads `folder` with its tracker's reader, or undefined when no tracker left it. `step` is used by TensorBoard runs only. */
export async function readTrackerRun(folder: RunFolder, options: TensorBoardReadOptions = {}): Promise<TrackerRun | undefined> {
  switch (detectTracker(folder)) {
    case 'mlflow': return readMlflowRun(folder, options);
    case 'wandb': return readWandbRun(folder, options);
    case 'tensorboard': return readTensorBoardRun(folder, options);
    case undefined: return undefined;
  }
}
