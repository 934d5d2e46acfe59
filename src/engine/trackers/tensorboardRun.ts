/**
 * Lightning runs logged with its default TensorBoardLogger (`<save_dir>/<name>/version_N/`, the
 * folder may be named anything): `hparams.yaml`, `events.out.tfevents.*` and
 * `checkpoints/epoch=E-step=S.ckpt`, usually no `metrics.csv`. The held-out accuracy is the
 * scalar logged at the checkpoint's global step.
 */
import * as path from 'node:path';
import { findHeldoutKey, heldoutKeys } from '../discovery/heldoutKeys';
import { LIGHTNING_HPARAMS_FILE } from '../discovery/lightning';
import type { RunFolder, Score } from '../discovery/runFolder';
import { checkAccuracyValue } from '../discovery/runFolder';
import { SoupError, errorMessage, isCancelled } from '../errors';
import type { ScalarPoint } from '../formats/tfevents';
import { readEventScalars } from '../formats/tfevents';
import type { TrackerReadOptions } from './trackerFiles';
import { applyScore, emptyRun, readYamlMapping, relName } from './trackerFiles';
import type { TrackerRun, WeightCandidate } from './trackerRun';
import { findWeightFiles } from './weightFiles';

/** The prefix of TensorBoard event file names (`events.out.tfevents.<time>.<host>.<pid>.<n>`). */
export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/** Options of {@link readTensorBoardRun}. */
export interface TensorBoardReadOptions extends TrackerReadOptions {
  /**
   * Global step of the chosen weights (a checkpoint's `global_step`). Default: the step in the
   * name of the run's only `.ckpt`; with several checkpoints (or none) the last logged value is
   * used, so a caller that picked one of several checkpoints passes its step.
   */
  step?: number;
}

/** True for a folder holding at least one TensorBoard event file. */
export function isTensorBoardRun(folder: RunFolder): boolean {
  return [...folder.files].some(isEventFile);
}

/** True for a TensorBoard event file name. */
export function isEventFile(name: string): boolean {
  return name.startsWith(EVENT_FILE_PREFIX);
}

/** Epoch and step in a Lightning checkpoint name (`epoch=2-step=140.ckpt`, `epoch=2-step=140-v1.ckpt`, `epoch=2-step=140-val_acc=0.88.ckpt`). */
export function parseCheckpointName(name: string): { epoch?: number; step?: number } {
  const epoch = /(?:^|[-_])epoch=(\d+)/.exec(name)?.[1];
  const step = /(?:^|[-_])step=(\d+)/.exec(name)?.[1];
  return { ...(epoch !== undefined && { epoch: Number(epoch) }), ...(step !== undefined && { step: Number(step) }) };
}

/**
 * Reads a TensorBoard-logged Lightning run: hyperparameters from `hparams.yaml`, weights (the
 * `.ckpt` whose name has `options.step` first), and the held-out scalar of the first default key
 * (or `options.metric`) at the weights' step, else at the last step logged before it, else (no
 * step known) the last value logged. Event files are read in name order (a resumed run adds
 * files); a later file's value for a step replaces an earlier one. Bad event records are skipped
 * and counted in a warning. Never throws for bad content (only CANCELLED).
 */
export async function readTensorBoardRun(folder: RunFolder, options: TensorBoardReadOptions = {}): Promise<TrackerRun> {
  const run = emptyRun('tensorboard', folder);
  if (folder.files.has(LIGHTNING_HPARAMS_FILE)) {
    const abs = path.join(folder.dir, LIGHTNING_HPARAMS_FILE);
    const yaml = await readYamlMapping(abs, relName(folder, abs));
    if (yaml.ok) {
      run.hparams = yaml.value;
      run.files.push(abs);
    } else run.warnings.push(`${yaml.reason}; hyperparameters not read`);
  }
  run.weights = rankForStep(await ckptWithSteps(folder), options.step);
  if (run.weights.length === 0) run.weightsReason = `${relName(folder, folder.dir)}: no weights file (checkpoints/*.ckpt, safetensors, .pth/.pt/.bin or .onnx)`;
  const ckpts = run.weights.filter((w) => w.format === 'lightning-ckpt');
  const step = options.step ?? (ckpts.length === 1 ? ckpts[0].step : undefined);
  const eventFiles = [...folder.files].filter(isEventFile).sort().map((f) => path.join(folder.dir, f));
  run.files.push(...eventFiles);
  const series = await readSeries(folder, run, eventFiles, options);
  const key = findHeldoutKey((k) => series.has(k), options.metric);
  if (key === undefined) {
    run.heldoutReason = eventFiles.length === 0
      ? `${relName(folder, folder.dir)}: no event file (${EVENT_FILE_PREFIX}*)`
      : `${relName(folder, eventFiles[0])}${eventFiles.length > 1 ? ` (and ${eventFiles.length - 1} more event files)` : ''}: no scalar ${heldoutKeys(options.metric).join(' or ')}`;
    return run;
  }
  const { point, file } = pointAtStep(series.get(key) ?? [], step);
  if (!point) {
    run.heldoutReason = `${relName(folder, folder.dir)}: no ${key} logged at or before step ${step}`;
    return run;
  }
  applyScore(run, scoreOf(point, relName(folder, file), key), point.step);
  return run;
}

type TaggedPoint = ScalarPoint & { file: string };

/** The wanted tags of every event file, in file order; unreadable files and bad records become warnings. */
async function readSeries(folder: RunFolder, run: TrackerRun, files: string[], options: TensorBoardReadOptions): Promise<Map<string, TaggedPoint[]>> {
  const series = new Map<string, TaggedPoint[]>();
  const tags = new Set(heldoutKeys(options.metric));
  for (const file of files) {
    const rel = relName(folder, file);
    try {
      const read = await readEventScalars(file, { tags, signal: options.signal });
      if (read.skipped > 0) {
        run.warnings.push(`${rel}: ${read.skipped} bad record${read.skipped === 1 ? '' : 's'} skipped (${read.records} read; ${read.problems.join('; ')})`);
      }
      for (const [tag, points] of read.series) {
        const into = series.get(tag) ?? [];
        for (const p of points) into.push({ ...p, file });
        series.set(tag, into);
      }
    } catch (err) {
      if (isCancelled(err)) throw err;
      run.warnings.push(`${rel}: ${err instanceof SoupError ? err.problem : errorMessage(err)}`);
    }
  }
  return series;
}

/** The last point at `step`, else the last point logged before it; with no step, the last point. */
function pointAtStep(points: readonly TaggedPoint[], step: number | undefined): { point?: TaggedPoint; file: string } {
  if (step === undefined) return { point: points.at(-1), file: points.at(-1)?.file ?? '' };
  let exact: TaggedPoint | undefined;
  let before: TaggedPoint | undefined;
  for (const p of points) {
    if (p.step === step) exact = p;
    else if (p.step < step && (!before || p.step >= before.step)) before = p;
  }
  const point = exact ?? before;
  return { point, file: point?.file ?? '' };
}

/**
 * A float32 scalar is reported as the shortest decimal that is the same float32 (0.8775, not
 * 0.877499997615814), as TensorBoard shows it, so equal accuracies from other trackers stay equal.
 */
function scoreOf(point: ScalarPoint, rel: string, key: string): Score {
  const value = point.float32 ? shortestFloat32(point.value) : point.value;
  return checkAccuracyValue(value, rel, key, `${key} (step ${point.step})`);
}

/** The shortest decimal that rounds to the same float32 as `x`. */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(x.toPrecision(digits));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

/** Weight files of the run folder, each `.ckpt` with the epoch and step its name gives. */
async function ckptWithSteps(folder: RunFolder): Promise<WeightCandidate[]> {
  const found = await findWeightFiles(folder.dir, folder.root);
  return found.map((w) => (w.format === 'lightning-ckpt' ? { ...w, ...parseCheckpointName(path.basename(w.path)) } : w));
}

/** `.ckpt` files first when the run has them (a TensorBoard run's weights), the one at `step` before all. */
function rankForStep(weights: WeightCandidate[], step: number | undefined): WeightCandidate[] {
  const rank = (w: WeightCandidate): number => (step !== undefined && w.step === step ? 0 : w.format === 'lightning-ckpt' ? 1 : 2);
  return weights.map((w, i) => ({ w, i })).sort((a, b) => rank(a.w) - rank(b.w) || a.i - b.i).map(({ w }) => w);
}
