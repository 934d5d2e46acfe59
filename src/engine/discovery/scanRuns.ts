/**
 * Walks a workspace and reads every fine-tuning run it finds (Hugging Face Trainer, Lightning,
 * MLflow, W&B, plain). Pure engine code: no VS Code, no printing; cancellation through an AbortSignal.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { DEFAULT_OUTPUT } from '../config';
import { SoupError, errorMessage, isCancelled, throwIfAborted } from '../errors';
import { isMlflowRun } from '../trackers/mlflowRun';
import { isWandbRun } from '../trackers/wandbRun';
import { isHfTrainerRun, readHfTrainerRun } from './hfTrainer';
import { isLightningRun, readLightningRun } from './lightning';
import { isPlainRun, listRunFolder, readPlainRun, toPosixRelative } from './plainRun';
import type { RunFolder } from './plainRun';
import { LinkPolicy } from './linkPolicy';
import type { SkippedPath } from './linkPolicy';
import type { RunLayout, RunRecord } from './runRecord';
import { folderModel } from './runWeights';
import { readTrackerRecord } from './trackerRuns';

/** Folder names never descended into, besides hidden ones. */
const SKIPPED_DIRS = new Set(['node_modules', '__pycache__']);

/** Default cap on directory entries examined, so a huge workspace fails fast instead of hanging. */
export const DEFAULT_MAX_FILES = 500_000;

// Async fs calls already yield to the event loop; this also yields to other work queued with
// setImmediate (e.g. progress messages) every so many folders.
const YIELD_EVERY_DIRS = 32;

/** Options for {@link scanRuns}. Globs are workspace-relative with POSIX separators. */
export interface ScanOptions {
  /** A run is reported only if its id matches one of these globs (empty or absent: all runs). */
  include?: string[];
  /** Folders matching any of these globs are skipped with everything below them (e.g. `expected/**`). */
  exclude?: string[];
  /** Workspace-relative soup output folder, skipped (default `.soups`). */
  outputDir?: string;
  /** Held-out metric name, overriding the default keys of heldoutKeys.ts (see `SoupConfig.metric`). */
  metric?: string;
  /** Checked between folders: when it fires the scan throws a CANCELLED SoupError. */
  signal?: AbortSignal;
  /** Called after each folder with the number of folders examined so far. */
  onProgress?: (foldersSeen: number) => void;
  /** Cap on directory entries examined (default {@link DEFAULT_MAX_FILES}); past it the scan throws. */
  maxFiles?: number;
  /** Absolute folders outside the workspace that symlinks may lead into (see {@link LinkPolicy}). */
  allowedRoots?: readonly string[];
  /** Told about every folder or link the scan did not enter, with the reason. */
  onSkipped?: (skipped: SkippedPath) => void;
}

/**
 * Finds the runs under `root`, sorted by id. A folder is a run when one layout's detector
 * recognises it (tried in the order HF Trainer, Lightning, MLflow, W&B, plain); the walk does not
 * descend into a run folder (an HF run resolves its own `checkpoint-N/` folders, a Lightning run
 * its `checkpoints/`). Real sub-folders are claimed before symlinked ones, so a link to a sibling
 * (W&B's `latest-run`) is not a second copy of the run. Skipped: hidden
 * folders, `node_modules`, `__pycache__`, the output folder, folders matching `exclude`, runs
 * whose model file matches `exclude`, and any folder already visited through another path
 * (symlinks are followed once, so loops end). Symlinks are followed only when their target
 * stays inside the workspace or under `allowedRoots`, never into /proc, /sys or /dev; links not
 * followed, folders that cannot be listed and folders whose names are not UTF-8 are reported to
 * `onSkipped`.
 *
 * Every folder with a `model.onnx` is reported, including a pretrained/reference model (as a
 * plain `unscored` run when it has no metrics): callers exclude the configured pretrained model.
 *
 * A broken run never stops the scan: it comes back `unscored`/`unreadable` with a reason. Throws
 * SoupError `CANCELLED` when `signal` fires, `READ_FAILED` when the root cannot be read or the
 * workspace has more than `maxFiles` entries.
 */
export async function scanRuns(root: string, options: ScanOptions = {}): Promise<RunRecord[]> {
  const absRoot = path.resolve(root);
  const isExcluded = options.exclude?.length ? picomatch(options.exclude, { dot: true }) : () => false;
  const isIncluded = options.include?.length ? picomatch(options.include, { dot: true }) : () => true;
  const outputDir = normaliseRel(options.outputDir ?? DEFAULT_OUTPUT);
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;

  const rootReal = await fsp.realpath(absRoot).catch((err: unknown) => {
    throw new SoupError('READ_FAILED', `cannot read the workspace folder (${errorMessage(err)})`, absRoot);
  });
  const policy = await LinkPolicy.create(rootReal, options.allowedRoots, options.onSkipped);
  const visited = new Set<string>([rootReal]);
  const runs: RunRecord[] = [];
  // Depth-first with an explicit stack: no recursion depth limit on deep trees.
  const stack: string[] = [absRoot];
  let foldersSeen = 0;
  let entriesSeen = 0;

  while (stack.length > 0) {
    throwIfAborted(options.signal);
    const dir = stack.pop() as string;
    const folder = await listRunFolder(absRoot, dir, policy);
    foldersSeen++;
    if (folder === undefined) {
      if (dir === absRoot) throw new SoupError('READ_FAILED', 'cannot list the workspace folder', absRoot);
      continue;
    }
    entriesSeen += folder.files.size + folder.dirs.size;
    if (entriesSeen > maxFiles) {
      throw new SoupError(
        'READ_FAILED',
        `stopped after ${maxFiles} files: too many to scan; narrow the scan with "exclude" globs`,
        absRoot,
      );
    }

    const run = await readRun(folder, options);
    throwIfAborted(options.signal);
    if (run) {
      // Exclude globs may also name files: a run whose model file is excluded is left out.
      if (isIncluded(run.id) && !isExcluded(toPosixRelative(absRoot, run.modelPath))) runs.push(run);
    } else {
      const children: { abs: string; real: string; linked: boolean }[] = [];
      for (const name of [...folder.dirs].sort().reverse()) {
        if (name.startsWith('.') || SKIPPED_DIRS.has(name)) continue;
        const childRel = folder.id === '' ? name : `${folder.id}/${name}`;
        if (childRel === outputDir || isExcluded(childRel) || isExcluded(`${childRel}/`)) continue;
        const childAbs = path.join(dir, name);
        const real = await fsp.realpath(childAbs).catch(() => undefined);
        if (real !== undefined) children.push({ abs: childAbs, real, linked: real !== path.join(folder.realDir, name) });
      }
      for (const child of [...children.filter((c) => !c.linked), ...children.filter((c) => c.linked)]) {
        if (visited.has(child.real)) continue;
        visited.add(child.real);
        stack.push(child.abs);
      }
    }
    options.onProgress?.(foldersSeen);
    if (foldersSeen % YIELD_EVERY_DIRS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return runs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The layout of the first detector that recognises the folder; `undefined` if none does. */
async function detectLayout(folder: RunFolder): Promise<RunLayout | undefined> {
  if (await isHfTrainerRun(folder)) return 'hf';
  if (isLightningRun(folder)) return 'lightning';
  if (isMlflowRun(folder)) return 'mlflow';
  if (isWandbRun(folder)) return 'wandb';
  if (isPlainRun(folder)) return 'plain';
  return undefined;
}

/** Reads the folder as a run of the first layout that recognises it; `undefined` if none does. */
async function readRun(folder: RunFolder, options: ScanOptions): Promise<RunRecord | undefined> {
  const layout = await detectLayout(folder);
  if (layout === undefined) return undefined;
  const read = { metric: options.metric, signal: options.signal };
  try {
    switch (layout) {
      case 'hf': return await readHfTrainerRun(folder);
      case 'lightning': return await readLightningRun(folder, read);
      case 'mlflow':
      case 'wandb': return await readTrackerRecord(folder, layout, read);
      case 'plain': return await readPlainRun(folder, read);
    }
  } catch (err) {
    if (isCancelled(err)) throw err;
    // Readers report broken runs in the record; this is the safety net for the unexpected.
    const id = folder.id === '' ? '.' : folder.id;
    const modelPath = folderModel(folder)?.modelPath ?? folder.dir;
    return { id, layout, dir: folder.dir, modelPath, files: modelPath === folder.dir ? [] : [modelPath], hparams: {}, status: 'unreadable', reason: `${id}: ${errorMessage(err)}` };
  }
}

function normaliseRel(p: string): string {
  return p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.').join('/');
}
