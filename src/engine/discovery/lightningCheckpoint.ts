/**
 * Which of a Lightning run's `checkpoints/*.ckpt` is its ingredient. ModelCheckpoint saves its
 * state (monitor, `best_model_path`, `best_model_score`) in every checkpoint it writes; the latest
 * state knows the best file, named by a path of the training machine, so it is matched by file name.
 */
import * as path from 'node:path';
import { openWeights } from '../checkpoints/weightsFile';
import { SoupError, errorMessage } from '../errors';
import type { TrainingState } from '../formats/torchCheckpoint';
import { parseCheckpointName } from '../trackers/tensorboardRun';
import { weightFormatOf } from '../trackers/weightFiles';
import { lastPathSegment } from './hfTrainer';
import type { RunFolder } from './plainRun';
import { joinId, listRunFolder } from './plainRun';

/** The folder Lightning's ModelCheckpoint writes into, inside the run folder. */
export const CHECKPOINTS_DIR = 'checkpoints';
/** Checkpoints opened per run to find the callback state (each open reads only the pickle). */
export const MAX_CHECKPOINTS_OPENED = 32;

/** The held-out value ModelCheckpoint recorded for the chosen file, and the `.ckpt` that recorded it. */
export interface CallbackScore {
  /** Absolute path of the checkpoint whose saved state gave the score. */
  file: string;
  monitor?: string;
  score?: number;
}

/** The chosen checkpoint, or why there is none; `warnings` name checkpoints that could not be opened. */
export type ChosenCheckpoint =
  | {
    ok: true;
    /** Absolute path of the chosen `.ckpt`. */
    file: string;
    /** How many `.ckpt` files the run has. */
    count: number;
    epoch?: number;
    step?: number;
    /** Set when a ModelCheckpoint state named this file as the best. */
    callback?: CallbackScore;
    /** Why the chosen file cannot be read (e.g. its pickle calls a global that is not allowed). */
    problem?: string;
    warnings: string[];
  }
  | { ok: false; reason: string; warnings: string[] };

interface Opened {
  name: string;
  training?: TrainingState;
  problem?: string;
}

/**
 * Chooses the ingredient among `checkpoints/*.ckpt`: the file named by `best_model_path` in the
 * ModelCheckpoint state of the latest checkpoint (highest global step; on a tie the later name,
 * so `last.ckpt`); without such a state, the only checkpoint, else the one with the highest global
 * step (from the file, else from its `step=N` name; `last*.ckpt` loses ties). Never throws.
 */
export async function chooseLightningCheckpoint(folder: RunFolder): Promise<ChosenCheckpoint> {
  const warnings: string[] = [];
  const rel = joinId(folder.id, CHECKPOINTS_DIR);
  const dir = path.join(folder.dir, CHECKPOINTS_DIR);
  const listed = folder.dirs.has(CHECKPOINTS_DIR) ? await listRunFolder(folder.root, dir, folder.policy) : undefined;
  if (!listed) return { ok: false, reason: `${joinId(folder.id, '')}: no ${CHECKPOINTS_DIR}/ folder that can be listed`, warnings };
  const names = [...listed.files].filter((n) => weightFormatOf(n) === 'lightning-ckpt').sort();
  if (names.length === 0) return { ok: false, reason: `${rel}: no .ckpt file`, warnings };
  if (names.length > MAX_CHECKPOINTS_OPENED) warnings.push(`${rel}: ${names.length} checkpoints; only the first ${MAX_CHECKPOINTS_OPENED} by name were read`);

  const opened: Opened[] = [];
  for (const name of names.slice(0, MAX_CHECKPOINTS_OPENED)) opened.push(await openCheckpoint(dir, name));
  const stepOf = (o: Opened): number => o.training?.globalStep ?? parseCheckpointName(o.name).step ?? -1;

  let authority: Opened | undefined;
  for (const o of opened) {
    if (o.training?.checkpointCallback?.bestModelPath === undefined) continue;
    if (!authority || stepOf(o) >= stepOf(authority)) authority = o;
  }
  let chosen: Opened | undefined;
  let callback: CallbackScore | undefined;
  const state = authority?.training?.checkpointCallback;
  if (authority && state?.bestModelPath !== undefined) {
    const best = lastPathSegment(state.bestModelPath);
    chosen = opened.find((o) => o.name === best);
    if (chosen) callback = { file: path.join(dir, authority.name), monitor: state.monitor, score: state.bestModelScore };
    else warnings.push(`${joinId(rel, authority.name)}: ModelCheckpoint names ${best} as the best checkpoint, which ${rel} does not hold; the latest checkpoint is used`);
  }
  if (!chosen) {
    const isLast = (o: Opened): boolean => /^last(-v\d+)?\.ckpt$/.test(o.name);
    chosen = opened.reduce((a, b) => (stepOf(b) > stepOf(a) || (stepOf(b) === stepOf(a) && isLast(a) && !isLast(b)) ? b : a));
  }
  for (const o of opened) if (o !== chosen && o.problem) warnings.push(`${joinId(rel, o.name)}: ${o.problem}`);
  const fromName = parseCheckpointName(chosen.name);
  const step = chosen.training?.globalStep ?? fromName.step;
  const epoch = chosen.training?.epoch ?? fromName.epoch;
  return {
    ok: true, file: path.join(dir, chosen.name), count: names.length, warnings,
    ...(step !== undefined && { step }), ...(epoch !== undefined && { epoch }),
    ...(callback && { callback }), ...(chosen.problem !== undefined && { problem: `${joinId(rel, chosen.name)}: ${chosen.problem}` }),
  };
}

/** A checkpoint's saved training state (pickle only; no tensor data is read), or why it cannot be read. */
async function openCheckpoint(dir: string, name: string): Promise<Opened> {
  try {
    const table = await openWeights(path.join(dir, name));
    return { name, training: table.training };
  } catch (err) {
    return { name, problem: err instanceof SoupError ? err.problem : errorMessage(err) };
  }
}
