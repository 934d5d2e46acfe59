/**
 * What every run-layout reader shares: the folder listing the scanner makes once per folder, reading
 * Python-written JSON and text inside the run (confined by the link policy), validating an
 * accuracy, naming hyperparameters, and finishing a RunRecord.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../errors';
import { openRegularFile } from '../formats/readInput';
import { jsonSyntaxProblem } from '../untrustedJson';
import { isInside, LinkPolicy } from './linkPolicy';
import type { HParamValue, MetricsSource, RunLayout, RunRecord, RunWeights } from './runRecord';
import { isRecord } from '../../shared/validation';

/** The file that makes a folder a run in every layout. */
export const MODEL_FILE = 'model.onnx';
/** Metrics and config files are small; anything bigger is not one (and is not read whole). */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;

/** A folder as the scanner saw it: one `readdir`, shared by every layout's detector. */
export interface RunFolder {
  /** Absolute path of the workspace root. */
  root: string;
  /** Absolute path of the folder. */
  dir: string;
  /** Folder path relative to the root, POSIX separators ('' for the root itself). */
  id: string;
  /** Names of the regular files in the folder (symlinks to files included). */
  files: ReadonlySet<string>;
  /** Names of the sub-folders (symlinks to folders included). */
  dirs: ReadonlySet<string>;
  /** Real path of the folder: metadata files are read only when they resolve inside it. */
  realDir: string;
  /** The scan's confinement (links followed only inside the workspace or allowed roots). */
  policy: LinkPolicy;
}

/** Options every layout reader takes. */
export interface ReadRunOptions {
  /** Held-out metric name; overrides the default keys (see heldoutKeys.ts). */
  metric?: string;
}

/** An accuracy read from a run's files, or why there is none. */
export type Score =
  | { ok: true; value: number; source: MetricsSource }
  | { ok: false; reason: string };

/** A value read from a file, or a human reason (`<file>: <problem>`, workspace-relative). */
export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Lists a folder for the detectors; `undefined` when it cannot be listed (reported to the
 * policy with the reason). Symlinks count only when their target stays inside the workspace or
 * an allowed root (see {@link LinkPolicy}); the others, and sub-folders whose names are not
 * valid UTF-8, are reported as skipped.
 */
export async function listRunFolder(root: string, dir: string, policy?: LinkPolicy): Promise<RunFolder | undefined> {
  const scope = policy ?? (await LinkPolicy.create(root));
  const id = toPosixRelative(root, dir);
  let entries;
  try {
    // Names as bytes: a name that is not UTF-8 would otherwise be decoded into another name.
    entries = await fsp.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    scope.skip(joinId(id, ''), `cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
  const realDir = await fsp.realpath(dir).catch(() => path.resolve(dir));
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const entry of entries) {
    const raw = entry.name as unknown as Buffer;
    const name = raw.toString('utf8');
    // Invalid bytes decode to U+FFFD; only then is the (rarer) byte comparison needed.
    if (name.includes('\uFFFD') && !Buffer.from(name, 'utf8').equals(raw)) {
      if (entry.isDirectory() || entry.isSymbolicLink()) scope.skip(joinId(id, escapeBytes(raw)), 'the name is not valid UTF-8; rename it to scan it');
      continue;
    }
    if (entry.isFile()) files.add(name);
    else if (entry.isDirectory()) dirs.add(name);
    else if (entry.isSymbolicLink()) {
      // Only a stat says what a link points at; broken links are neither.
      const abs = path.join(dir, name);
      const real = await fsp.realpath(abs).catch(() => undefined);
      if (real === undefined) continue;
      if (!scope.mayFollow(real)) {
        scope.skip(joinId(id, name), scope.refusal(real));
        continue;
      }
      const target = await fsp.stat(real).catch(() => undefined);
      if (target?.isFile()) files.add(name);
      else if (target?.isDirectory()) dirs.add(name);
    }
  }
  return { root, dir, id, files, dirs, realDir, policy: scope };
}

/** A file name's bytes with every non-ASCII or control byte as `\xNN`. */
function escapeBytes(raw: Buffer): string {
  return [...raw].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/** Workspace-relative POSIX path of `abs` ('' for the root). */
export function toPosixRelative(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}

/** Joins a run id and a file name into a workspace-relative POSIX path. */
export function joinId(id: string, name: string): string {
  if (name === '') return id === '' ? '.' : id;
  return id === '' ? name : `${id}/${name}`;
}

/** Absolute paths of those of `names` that the folder holds, in the given order. */
export function presentFiles(folder: RunFolder, names: readonly string[]): string[] {
  return names.filter((n) => folder.files.has(n)).map((n) => path.join(folder.dir, n));
}

/**
 * Reads a small text file; `rel` (workspace-relative) names it in the reason. Regular files
 * only (a FIFO or a device is refused without blocking); the reason names the path, the size
 * or the kind of problem, never the content.
 */
export async function readTextFile(abs: string, rel: string): Promise<ReadResult<string>> {
  try {
    const { fh, size } = await openRegularFile(abs);
    try {
      if (size > MAX_TEXT_FILE_BYTES) {
        return { ok: false, reason: `${rel}: ${size} bytes is too large for a metrics file (limit ${MAX_TEXT_FILE_BYTES})` };
      }
      return { ok: true, value: await fh.readFile('utf8') };
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof SoupError) return { ok: false, reason: `${rel}: ${err.problem}` };
    return { ok: false, reason: `${rel}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
}

/** Reads a JSON file that Python may have written (bare `NaN`/`Infinity` allowed). */
export async function readJsonFile(abs: string, rel: string): Promise<ReadResult<unknown>> {
  const text = await readTextFile(abs, rel);
  if (!text.ok) return text;
  try {
    return { ok: true, value: parsePythonJson(text.value) };
  } catch (err) {
    return { ok: false, reason: `${rel}: ${jsonSyntaxProblem(err)}` };
  }
}

/**
 * Reads metadata file `name` of a run folder, only when it resolves inside that folder or under
 * an allowed root: a `training_args.json` or `metrics.json` that links elsewhere (a credentials
 * file, /etc/shadow) is not read, so its content cannot reach the report.
 */
export async function readRunText(folder: RunFolder, name: string): Promise<ReadResult<string>> {
  const rel = joinId(folder.id, name);
  const real = await confinedPath(folder, name);
  if (!real.ok) return real;
  return readTextFile(real.value, rel);
}

/** {@link readRunText} for JSON (see {@link readJsonFile}). */
export async function readRunJson(folder: RunFolder, name: string): Promise<ReadResult<unknown>> {
  const rel = joinId(folder.id, name);
  const real = await confinedPath(folder, name);
  if (!real.ok) return real;
  return readJsonFile(real.value, rel);
}

async function confinedPath(folder: RunFolder, name: string): Promise<ReadResult<string>> {
  const rel = joinId(folder.id, name);
  const real = await fsp.realpath(path.join(folder.dir, name)).catch((err: NodeJS.ErrnoException) => err);
  if (real instanceof Error) return { ok: false, reason: `${rel}: cannot be read (${real.code ?? real.message})` };
  if (isInside(real, folder.realDir) || folder.policy.inAllowedRoot(real)) return { ok: true, value: real };
  return { ok: false, reason: `${rel}: links outside the run folder (${LinkPolicy.isForbidden(real) ? 'into a system folder' : 'not under an allowed root'}); not read` };
}

// Python's json module writes NaN, Infinity and -Infinity bare; JSON.parse rejects them. Outside
// strings no valid JSON contains these letters, so they are swapped for marker strings that the
// reviver turns back into numbers, and the accuracy check then reports them by name.
const NON_FINITE_MARK = '\u0000soup-non-finite:';
const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

/**
 * `JSON.parse` that also accepts the bare `NaN`, `Infinity` and `-Infinity` tokens Python writes,
 * returning them as the corresponding numbers. Throws a SyntaxError (of the original text) on
 * malformed JSON.
 */
export function parsePythonJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let out = '';
  let last = 0;
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === '"') {
      i++;
      while (i < body.length && body[i] !== '"') i += body[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const token = c === 'N' && body.startsWith('NaN', i) ? 'NaN'
      : c === 'I' && body.startsWith('Infinity', i) ? 'Infinity'
      : c === '-' && body.startsWith('-Infinity', i) ? '-Infinity'
      : undefined;
    if (token) {
      out += body.slice(last, i) + JSON.stringify(NON_FINITE_MARK + token);
      i += token.length;
      last = i;
      continue;
    }
    i++;
  }
  if (last === 0) return JSON.parse(body);
  out += body.slice(last);
  try {
    return JSON.parse(out, (_key, value: unknown) =>
      typeof value === 'string' && value.startsWith(NON_FINITE_MARK) ? NON_FINITE[value.slice(NON_FINITE_MARK.length)] : value,
    );
  } catch {
    // Report the error against the text the user wrote, not the rewritten one.
    return JSON.parse(body);
  }
}

/**
 * Validates a held-out accuracy: it must be a finite number in [0, 1] (percentages are rejected,
 * not guessed at). The reason names the file, the field and the value.
 */
export function checkAccuracy(container: Record<string, unknown>, rel: string, field: string, label = field): Score {
  if (!(field in container)) return { ok: false, reason: `${rel}: no ${label}` };
  return checkAccuracyValue(container[field], rel, field, label);
}

/** {@link checkAccuracy} for a value already looked up; `label` is how the reason names it. */
export function checkAccuracyValue(value: unknown, rel: string, field: string, label = field): Score {
  const fail = (problem: string): Score => ({ ok: false, reason: `${rel}: ${label} ${problem}` });
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return fail('is NaN');
    if (!Number.isFinite(value)) return fail(`is ${value > 0 ? 'Infinity' : '-Infinity'}`);
    if (value < 0 || value > 1) return fail(`is ${value}, expected a fraction in [0, 1]`);
    return { ok: true, value, source: { file: rel, field } };
  }
  if (typeof value === 'string') {
    // A short word ("high", "NaN", "87%") is quoted; longer text is file content and is not echoed.
    return fail(`is a string${/^[\w.+\-% ]{1,16}$/.test(value) ? ` (${JSON.stringify(value)})` : ` of ${value.length} characters`}, expected a number in [0, 1]`);
  }
  if (value === null) return fail('is null, expected a number in [0, 1]');
  return fail(`is ${Array.isArray(value) ? 'an array' : typeof value}, expected a number in [0, 1]`);
}

// Layouts name the same hyperparameter differently; one vocabulary lets runs be compared side by side.
const HPARAM_ALIASES: Record<string, string> = {
  learning_rate: 'lr',
  num_train_epochs: 'epochs',
  max_epochs: 'epochs',
  per_device_train_batch_size: 'batch_size',
  train_batch_size: 'batch_size',
  label_smoothing_factor: 'label_smoothing',
  lr_scheduler_type: 'lr_scheduler',
  scheduler: 'lr_scheduler',
  optim: 'optimizer',
};

/**
 * Renames known aliases to one vocabulary (`learning_rate`/`lr` -> `lr`, `num_train_epochs`/
 * `max_epochs` -> `epochs`, `per_device_train_batch_size` -> `batch_size`,
 * `label_smoothing_factor` -> `label_smoothing`, `lr_scheduler_type`/`scheduler` ->
 * `lr_scheduler`, `optim` -> `optimizer`); values are kept as written. `keep` filters raw keys.
 */
export function normaliseHParams(raw: Record<string, unknown>, keep: (key: string) => boolean = () => true): Record<string, HParamValue> {
  const out: Record<string, HParamValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!keep(key)) continue;
    const converted = toHParamValue(value);
    // Own-property lookup: `constructor` or `__proto__` are names, not Object.prototype members.
    if (converted !== undefined) setOwn(out, Object.hasOwn(HPARAM_ALIASES, key) ? HPARAM_ALIASES[key] : key, converted);
  }
  return out;
}

/** Nesting kept in hyperparameter values; deeper values become a marker string (no stack overflow). */
export const MAX_HPARAM_DEPTH = 32;

/** Converts a parsed value to an {@link HParamValue}; non-finite numbers become their names. */
export function toHParamValue(value: unknown, depth = 0): HParamValue | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if ((Array.isArray(value) || isRecord(value)) && depth >= MAX_HPARAM_DEPTH) return `(nested deeper than ${MAX_HPARAM_DEPTH} levels)`;
  if (Array.isArray(value)) return value.map((v) => toHParamValue(v, depth + 1) ?? null);
  if (isRecord(value)) {
    const out: { [key: string]: HParamValue } = {};
    for (const [k, v] of Object.entries(value)) {
      const converted = toHParamValue(v, depth + 1);
      if (converted !== undefined) setOwn(out, k, converted);
    }
    return out;
  }
  return undefined;
}

/** `obj[key] = value` as an own data property, also for `__proto__` (which `=` would treat as the prototype). */
function setOwn(obj: Record<string, HParamValue>, key: string, value: HParamValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** True for a scalar hyperparameter value (what run tables show). */
export function isScalar(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean';
}

/** What {@link finishRecord} needs to build a {@link RunRecord}. */
export interface RecordParts {
  folder: RunFolder;
  layout: RunLayout;
  modelPath: string;
  files: string[];
  hparams: Record<string, HParamValue>;
  score: Score;
  /** Set when the ingredient is checkpoint weights (then `modelPath` is `weights.file`). */
  weights?: RunWeights;
  runName?: string;
  /** Why the run's ingredient cannot be read (no weights file: `modelPath` is then the run folder): the run is `unreadable`. */
  unreadable?: string;
  checkpoint?: string;
  warnings?: string[];
}

/**
 * Builds the record: `unreadable` when `parts.unreadable` says why, or the model file is not a
 * non-empty file, else `ok` or `unscored` from the score.
 */
export async function finishRecord(parts: RecordParts): Promise<RunRecord> {
  const { folder, layout, modelPath, hparams, score, checkpoint } = parts;
  const record: RunRecord = {
    id: folder.id === '' ? '.' : folder.id,
    layout,
    dir: folder.dir,
    modelPath,
    files: [...new Set(parts.files)].sort(),
    hparams,
    status: 'ok',
  };
  if (parts.weights) record.weights = parts.weights;
  if (parts.runName !== undefined) record.runName = parts.runName;
  if (checkpoint !== undefined) record.checkpoint = checkpoint;
  if (parts.warnings?.length) record.warnings = parts.warnings;
  if (parts.unreadable !== undefined) {
    record.status = 'unreadable';
    record.reason = parts.unreadable;
    return record;
  }
  const modelRel = toPosixRelative(folder.root, modelPath);
  const stat = await fsp.stat(modelPath).catch((err: NodeJS.ErrnoException) => err);
  if (stat instanceof Error) {
    record.status = 'unreadable';
    record.reason = `${modelRel}: cannot be read (${stat.code ?? stat.message})`;
  } else if (!stat.isFile() || stat.size === 0) {
    record.status = 'unreadable';
    record.reason = `${modelRel}: ${stat.isFile() ? 'is empty' : 'is not a file'}`;
  } else if (score.ok) {
    record.heldout = score.value;
    record.metricsSource = score.source;
  } else {
    record.status = 'unscored';
    record.reason = score.reason;
  }
  return record;
}
