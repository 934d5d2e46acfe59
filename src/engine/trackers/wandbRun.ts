/**
 * Weights & Biases local run folders (`wandb/run-<YYYYMMDD_HHMMSS>-<id>/`, `offline-run-...` when
 * offline): `files/wandb-summary.json` (the last value of every logged key), `files/config.yaml`
 * (each key as `{desc, value}`, plus W&B's own `_wandb`), `files/wandb-metadata.json` (host,
 * program, ...), and weights saved into `files/`.
 */
import * as path from 'node:path';
import { heldoutKeys } from '../discovery/heldoutKeys';
import type { RunFolder } from '../discovery/runFolder';
import { checkAccuracyValue } from '../discovery/runFolder';
import { isRecord } from '../../shared/validation';
import type { HParamValue } from '../discovery/runRecord';
import { throwIfAborted } from '../errors';
import type { TrackerReadOptions } from './trackerFiles';
import { applyScore, emptyRun, readJsonObject, readYamlMapping, relName } from './trackerFiles';
import type { TrackerRun } from './trackerRun';
import { findWeightFiles } from './weightFiles';

/** The folder W&B syncs, holding everything this reader reads. */
export const WANDB_FILES_DIR = 'files';
export const WANDB_SUMMARY_FILE = 'wandb-summary.json';
export const WANDB_CONFIG_FILE = 'config.yaml';
export const WANDB_METADATA_FILE = 'wandb-metadata.json';

const RUN_FOLDER = /^(?:offline-)?run-\d{8}_\d{6}-([A-Za-z0-9]+)$/;
// config.yaml keys that are W&B's bookkeeping, not the user's config.
const CONFIG_BOOKKEEPING = new Set(['_wandb', 'wandb_version']);
// wandb-metadata.json fields shown as run details.
const METADATA_DETAILS = ['host', 'program', 'startedAt', 'os', 'python', 'gpu'] as const;

/** The run id in a W&B run folder name (`run-20261101_093012-k3j9x2aa` -> `k3j9x2aa`). */
export function wandbRunId(folderName: string): string | undefined {
  return RUN_FOLDER.exec(folderName)?.[1];
}

/** True for a folder with `files/` named like a W&B run, or holding W&B's `run-<id>.wandb` log. */
export function isWandbRun(folder: RunFolder): boolean {
  if (!folder.dirs.has(WANDB_FILES_DIR)) return false;
  return wandbRunId(path.basename(folder.dir)) !== undefined || [...folder.files].some((f) => /^run-.+\.wandb$/.test(f));
}

/**
 * Reads a W&B run. The held-out accuracy is the summary value of the first default key (or
 * `options.metric`); a key with slashes is looked up as written, then as a nested path
 * (`{"eval": {"accuracy": ...}}`). Never throws for bad content (only CANCELLED).
 */
export async function readWandbRun(folder: RunFolder, options: TrackerReadOptions = {}): Promise<TrackerRun> {
  const run = emptyRun('wandb', folder);
  const id = wandbRunId(path.basename(folder.dir));
  if (id !== undefined) run.runName = id;
  const files = path.join(folder.dir, WANDB_FILES_DIR);
  await readSummary(folder, run, path.join(files, WANDB_SUMMARY_FILE), options.metric);
  await readConfig(folder, run, path.join(files, WANDB_CONFIG_FILE));
  await readMetadata(folder, run, path.join(files, WANDB_METADATA_FILE));
  throwIfAborted(options.signal);
  run.weights = await findWeightFiles(files, folder.root);
  if (run.weights.length === 0) run.weightsReason = `${relName(folder, files)}: no weights file (safetensors, .pth/.pt/.bin, .ckpt or .onnx)`;
  return run;
}

async function readSummary(folder: RunFolder, run: TrackerRun, abs: string, metric: string | undefined): Promise<void> {
  const rel = relName(folder, abs);
  const json = await readJsonObject(abs, rel);
  if (!json.ok) {
    run.heldoutReason = json.reason;
    return;
  }
  run.files.push(abs);
  for (const key of heldoutKeys(metric)) {
    const found = lookup(json.value, key);
    if (found.present) {
      // Reasons never quote file contents: a string value is named by its type only.
      applyScore(run, typeof found.value === 'string' ? { ok: false, reason: `${rel}: ${key} is a string, expected a number in [0, 1]` } : checkAccuracyValue(found.value, rel, key));
      return;
    }
  }
  run.heldoutReason = `${rel}: no ${heldoutKeys(metric).join(' or ')}`;
}

/** `obj[key]`, else the nested path `key.split('/')`; own properties only. */
function lookup(obj: Record<string, unknown>, key: string): { present: boolean; value?: unknown } {
  if (Object.hasOwn(obj, key)) return { present: true, value: obj[key] };
  let at: unknown = obj;
  for (const part of key.split('/')) {
    if (!isRecord(at) || !Object.hasOwn(at, part)) return { present: false };
    at = at[part];
  }
  return { present: true, value: at };
}

/** `config.yaml`: `{desc, value}` entries unwrapped, W&B's own keys skipped. A broken file is a warning. */
async function readConfig(folder: RunFolder, run: TrackerRun, abs: string): Promise<void> {
  const rel = relName(folder, abs);
  const yaml = await readYamlMapping(abs, rel);
  if (!yaml.ok) {
    run.warnings.push(`${yaml.reason}; hyperparameters not read`);
    return;
  }
  run.files.push(abs);
  const hparams: Record<string, HParamValue> = {};
  for (const [key, entry] of Object.entries(yaml.value)) {
    if (CONFIG_BOOKKEEPING.has(key)) continue;
    const value = isRecord(entry) && Object.hasOwn(entry, 'value') ? entry.value : entry;
    Object.defineProperty(hparams, key, { value, enumerable: true, writable: true, configurable: true });
  }
  run.hparams = hparams;
}

async function readMetadata(folder: RunFolder, run: TrackerRun, abs: string): Promise<void> {
  const json = await readJsonObject(abs, relName(folder, abs));
  if (!json.ok) return;
  run.files.push(abs);
  for (const key of METADATA_DETAILS) {
    const value = json.value[key];
    if (typeof value === 'string' || typeof value === 'number') run.details[key] = String(value);
  }
}
