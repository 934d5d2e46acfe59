/**
 * Plain runs: a folder with `model.onnx` and, usually, `metrics.json`
 * (`{"val_accuracy": 0.87, "hparams": {...}}`), or with checkpoint weights (`model.pt`,
 * `model.pth`, `model.safetensors`, ...) and `metrics.json`. A folder with a `model.onnx` and no
 * metrics file that no other layout recognises is also a plain run, `unscored` ("no metrics file").
 */
import * as path from 'node:path';
import { findHeldoutKey, heldoutKeys } from './heldoutKeys';
import type { HParamValue, RunRecord } from './runRecord';
import type { ReadRunOptions, RunFolder, Score } from './runFolder';
import { checkAccuracy, finishRecord, joinId, MODEL_FILE, normaliseHParams, presentFiles, readRunJson } from './runFolder';
import { isRecord } from '../../shared/validation';
import { checkpointFiles, folderModel } from './runWeights';

/** The plain layout's metrics file. */
export const PLAIN_METRICS_FILE = 'metrics.json';

/** True when the folder holds a `model.onnx`, or checkpoint weights next to a `metrics.json`. */
export function isPlainRun(folder: RunFolder): boolean {
  return folder.files.has(MODEL_FILE) || (folder.files.has(PLAIN_METRICS_FILE) && checkpointFiles(folder).length > 0);
}

/**
 * Reads a plain run (never throws: a broken run comes back `unscored` or `unreadable`). The model
 * is `model.onnx`, else the best-ranked weights file (see runWeights.ts); the accuracy is the
 * first of the held-out keys (`options.metric`, else the defaults of heldoutKeys.ts) that
 * `metrics.json` holds.
 */
export async function readPlainRun(folder: RunFolder, options: ReadRunOptions = {}): Promise<RunRecord> {
  const model = folderModel(folder) ?? { modelPath: path.join(folder.dir, MODEL_FILE) };
  const { modelPath, weights } = model;
  const files = [...presentFiles(folder, [MODEL_FILE, PLAIN_METRICS_FILE, 'model.safetensors', 'config.json']), modelPath];
  let hparams: Record<string, HParamValue> = {};
  let score: Score;
  if (!folder.files.has(PLAIN_METRICS_FILE)) {
    score = { ok: false, reason: `${joinId(folder.id, '')}: no metrics file` };
  } else {
    const rel = joinId(folder.id, PLAIN_METRICS_FILE);
    const json = await readRunJson(folder, PLAIN_METRICS_FILE);
    if (!json.ok) {
      score = json;
    } else if (!isRecord(json.value)) {
      score = { ok: false, reason: `${rel}: expected a JSON object` };
    } else {
      const metrics = json.value;
      if (isRecord(metrics.hparams)) hparams = normaliseHParams(metrics.hparams);
      const field = findHeldoutKey((k) => Object.hasOwn(metrics, k), options.metric);
      score = field === undefined ? { ok: false, reason: `${rel}: no ${heldoutKeys(options.metric).join(' or ')}` } : checkAccuracy(metrics, rel, field);
    }
  }
  return finishRecord({ folder, layout: 'plain', modelPath, weights, files, hparams, score });
}
