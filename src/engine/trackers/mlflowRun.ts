/**
 * MLflow file-store runs (`mlruns/<experiment id>/<run id>/`): `meta.yaml` (run name, status),
 * `metrics/<key>` (append-only lines `<timestamp ms> <value> <step>`), `params/<key>` (one value
 * per file), `tags/mlflow.runName`, weights under `artifacts/`. The experiment folder above holds
 * its own `meta.yaml` with the experiment name. A key with slashes is a nested path in all three.
 */
import * as path from 'node:path';
import { findHeldoutKey, heldoutKeys } from '../discovery/heldoutKeys';
import { parseCsvNumber } from '../discovery/lightning';
import type { RunFolder, Score } from '../discovery/runFolder';
import { checkAccuracyValue, normaliseHParams } from '../discovery/runFolder';
import { throwIfAborted } from '../errors';
import type { TrackerReadOptions } from './trackerFiles';
import {
  applyScore, emptyRun, isInside, isSafeKeyPath, listKeyFiles, mapConcurrent, readTailLines, readValueFile, readYamlMapping, relName,
} from './trackerFiles';
import type { TrackerRun } from './trackerRun';
import { findWeightFiles } from './weightFiles';

/** The run's (and the experiment's) metadata file. */
export const MLFLOW_META_FILE = 'meta.yaml';
/** The tag MLflow keeps the run name in (older stores have no `run_name` in `meta.yaml`). */
export const MLFLOW_RUN_NAME_TAG = 'mlflow.runName';

// Param files are tiny: reading them side by side hides the file system's latency.
const PARALLEL_READS = 16;
// mlflow.entities.RunStatus: the file store keeps the enum number.
const RUN_STATUS: Record<number, string> = { 1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED' };

/** True for a folder with `meta.yaml` and one of `metrics/`, `params/`, `tags/`, `artifacts/`. */
export function isMlflowRun(folder: RunFolder): boolean {
  return folder.files.has(MLFLOW_META_FILE) && ['metrics', 'params', 'tags', 'artifacts'].some((d) => folder.dirs.has(d));
}

/**
 * Reads an MLflow run. The held-out accuracy is the LAST line of the first default key's (or
 * `options.metric`'s) metric file: the value logged last, which belongs to the saved model. Never
 * throws for bad content (only CANCELLED): problems become `heldoutReason`, `weightsReason` or warnings.
 */
export async function readMlflowRun(folder: RunFolder, options: TrackerReadOptions = {}): Promise<TrackerRun> {
  const run = emptyRun('mlflow', folder);
  await readRunMeta(folder, run);
  await readExperimentName(folder, run);
  throwIfAborted(options.signal);
  await readMetric(folder, run, options.metric);
  await readParams(folder, run);
  throwIfAborted(options.signal);
  const artifacts = path.join(folder.dir, 'artifacts');
  run.weights = await findWeightFiles(artifacts, folder.root);
  if (run.weights.length === 0) run.weightsReason = `${relName(folder, artifacts)}: no weights file (safetensors, .pth/.pt/.bin, .ckpt or .onnx)`;
  return run;
}

async function readRunMeta(folder: RunFolder, run: TrackerRun): Promise<void> {
  const abs = path.join(folder.dir, MLFLOW_META_FILE);
  run.files.push(abs);
  const meta = await readYamlMapping(abs, relName(folder, abs));
  if (!meta.ok) {
    run.warnings.push(meta.reason);
  } else {
    const { run_name: name, run_id: id, status, lifecycle_stage: stage } = meta.value;
    if (typeof name === 'string' && name !== '') run.runName = name;
    if (typeof id === 'string' && id !== '') run.details.runId = id;
    if (typeof status === 'number' && RUN_STATUS[status]) run.details.status = RUN_STATUS[status];
    else if (typeof status === 'string') run.details.status = status;
    if (stage === 'deleted') run.warnings.push(`${relName(folder, abs)}: the run is deleted in MLflow (lifecycle_stage: deleted)`);
  }
  if (run.runName !== undefined || !folder.dirs.has('tags')) return;
  const tag = path.join(folder.dir, 'tags', MLFLOW_RUN_NAME_TAG);
  const text = await readValueFile(tag, relName(folder, tag));
  if (text.ok && text.value.trim() !== '') {
    run.runName = text.value.trim();
    run.files.push(tag);
  }
}

/** The experiment name from `../meta.yaml`, when the experiment folder is inside the workspace. */
async function readExperimentName(folder: RunFolder, run: TrackerRun): Promise<void> {
  const parent = path.dirname(folder.dir);
  if (!isInside(folder.root, parent)) return;
  const abs = path.join(parent, MLFLOW_META_FILE);
  const meta = await readYamlMapping(abs, relName(folder, abs));
  if (meta.ok && typeof meta.value.name === 'string') run.details.experiment = meta.value.name;
}

async function readMetric(folder: RunFolder, run: TrackerRun, metric: string | undefined): Promise<void> {
  const dir = path.join(folder.dir, 'metrics');
  const { files } = await listKeyFiles(dir);
  const key = findHeldoutKey((k) => isSafeKeyPath(k) && files.has(k), metric);
  if (key === undefined) {
    const have = [...files.keys()].slice(0, 20).join(', ') || 'none';
    run.heldoutReason = `${relName(folder, dir)}: no metric ${heldoutKeys(metric).join(' or ')} (metrics: ${have})`;
    return;
  }
  const abs = path.join(dir, ...key.split('/'));
  run.files.push(abs);
  const rel = relName(folder, abs);
  const lines = await readTailLines(abs, rel);
  if (!lines.ok) {
    run.heldoutReason = lines.reason;
    return;
  }
  const { score, step, skippedLast } = lastMetricLine(lines.value, rel, key);
  if (skippedLast) run.warnings.push(`${rel}: the last line is not "<timestamp> <value> <step>"; the line before it was used`);
  applyScore(run, score, step);
}

/**
 * The accuracy on the last well-formed `<timestamp> <value> [<step>]` line (blank lines ignored);
 * `skippedLast` when a malformed last line (a write cut short) was passed over.
 */
export function lastMetricLine(lines: readonly string[], rel: string, key: string): { score: Score; step?: number; skippedLast: boolean } {
  let skippedLast = false;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    const value = parseCsvNumber(parts[1] ?? '');
    const step = parts.length === 3 ? parseCsvNumber(parts[2]) : 0;
    if ((parts.length === 2 || parts.length === 3) && parseCsvNumber(parts[0]) !== undefined && value !== undefined && step !== undefined && Number.isInteger(step)) {
      return { score: checkAccuracyValue(value, rel, key, `${key} (last line)`), step: parts.length === 3 ? step : undefined, skippedLast };
    }
    skippedLast = true;
  }
  return { score: { ok: false, reason: `${rel}: no "<timestamp> <value> <step>" line` }, skippedLast: false };
}

/** `params/*`: one value per file, numbers parsed (MLflow stores every param as text). */
async function readParams(folder: RunFolder, run: TrackerRun): Promise<void> {
  if (!folder.dirs.has('params')) return;
  const dir = path.join(folder.dir, 'params');
  const { files, truncated } = await listKeyFiles(dir);
  if (truncated) run.warnings.push(`${relName(folder, dir)}: too many entries; only the first were read`);
  const raw: Record<string, unknown> = {};
  const entries = [...files];
  const texts = await mapConcurrent(entries, PARALLEL_READS, ([, abs]) => readValueFile(abs, relName(folder, abs)));
  entries.forEach(([key], i) => {
    const text = texts[i];
    if (!text.ok) {
      run.warnings.push(text.reason);
      return;
    }
    const number = parseCsvNumber(text.value.trim());
    Object.defineProperty(raw, key, { value: number ?? text.value, enumerable: true });
  });
  run.hparams = normaliseHParams(raw);
}
