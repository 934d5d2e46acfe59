/**
 * MLflow and W&B runs as RunRecords: the tracker readers (src/engine/trackers/) give the run name,
 * hyperparameters, held-out value and weight files; the ingredient is the best-ranked weights file
 * (see `findWeightFiles`). A tracker run without weights is listed `unreadable` with the reason.
 */
import { readMlflowRun } from '../trackers/mlflowRun';
import type { TrackerReadOptions } from '../trackers/trackerFiles';
import type { TrackerRun } from '../trackers/trackerRun';
import { readWandbRun } from '../trackers/wandbRun';
import type { RunFolder, Score } from './plainRun';
import { finishRecord, joinId } from './plainRun';
import type { RunRecord } from './runRecord';
import { runWeightsOf } from './runWeights';

/** Reads an MLflow (`mlruns/<exp>/<run>/`) or W&B (`wandb/run-<date>-<id>/`) run folder. Throws only CANCELLED. */
export async function readTrackerRecord(folder: RunFolder, kind: 'mlflow' | 'wandb', options: TrackerReadOptions = {}): Promise<RunRecord> {
  const run = kind === 'mlflow' ? await readMlflowRun(folder, options) : await readWandbRun(folder, options);
  const chosen = run.weights[0];
  const parts = { folder, layout: kind, hparams: run.hparams, runName: run.runName, score: scoreOf(run), warnings: run.warnings };
  if (chosen === undefined) {
    const reason = run.weightsReason ?? `${joinId(folder.id, '')}: no weights file`;
    return finishRecord({ ...parts, modelPath: folder.dir, files: run.files, unreadable: reason });
  }
  return finishRecord({ ...parts, modelPath: chosen.path, weights: runWeightsOf(chosen.path, chosen.format), files: [...run.files, chosen.path] });
}

function scoreOf(run: TrackerRun): Score {
  if (run.heldout !== undefined && run.metricsSource) {
    return { ok: true, value: run.heldout, source: { file: run.metricsSource.file, field: run.metricsSource.field } };
  }
  return { ok: false, reason: run.heldoutReason ?? `${run.id}: no held-out accuracy` };
}
