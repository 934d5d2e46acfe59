/**
 * File helpers the tracker readers share: safe YAML mappings, the tail of an append-only log,
 * small per-key files (MLflow `params/`), and building a {@link TrackerRun}.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseHParamsYaml } from '../discovery/lightning';
import type { ReadResult, RunFolder, Score } from '../discovery/runFolder';
import { parsePythonJson, readTextFile, toPosixRelative } from '../discovery/runFolder';
import { isRecord } from '../../shared/validation';
import type { HParamValue } from '../discovery/runRecord';
import type { TrackerKind, TrackerRun } from './trackerRun';

/** Options every tracker reader takes. */
export interface TrackerReadOptions {
  /** Held-out metric key; overrides the default keys (see heldoutKeys.ts). */
  metric?: string;
  signal?: AbortSignal;
}

/** Bytes read from the end of an append-only metric log (MLflow `metrics/<key>`). */
export const TAIL_BYTES = 64 * 1024;
/** Longest value file read whole (MLflow caps a param value at 6000 characters). */
export const MAX_VALUE_FILE_BYTES = 64 * 1024;
/** Entries looked at under a per-key folder (`params/`, `tags/`). */
export const MAX_KEY_FILES = 2000;
/** Nesting of per-key folders (a key `a/b/c` is three levels). */
export const MAX_KEY_DEPTH = 8;

/** A new run record with nothing read yet. */
export function emptyRun(kind: TrackerKind, folder: RunFolder): TrackerRun {
  return { kind, dir: folder.dir, id: folder.id === '' ? '.' : folder.id, hparams: {}, weights: [], files: [], details: {}, warnings: [] };
}

/** Sets the held-out fields of `run` from a score (`heldout` + source, or the reason). */
export function applyScore(run: TrackerRun, score: Score, step?: number): void {
  if (score.ok) {
    run.heldout = score.value;
    run.metricsSource = step === undefined ? score.source : { ...score.source, step };
  } else {
    run.heldoutReason = score.reason;
  }
}

/** Workspace-relative POSIX name of `abs`, for reasons and sources. */
export function relName(folder: RunFolder, abs: string): string {
  return toPosixRelative(folder.root, abs) || '.';
}

/**
 * Reads a JSON object that Python may have written (bare `NaN`/`Infinity` allowed). Unlike the
 * parser's own messages (which show a snippet), the reason never quotes the file.
 */
export async function readJsonObject(abs: string, rel: string): Promise<ReadResult<Record<string, unknown>>> {
  const text = await readTextFile(abs, rel);
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = parsePythonJson(text.value);
  } catch {
    return { ok: false, reason: `${rel}: not valid JSON` };
  }
  return isRecord(value) ? { ok: true, value } : { ok: false, reason: `${rel}: expected a JSON object` };
}

/**
 * Reads a YAML mapping with the hyperparameter file's safe options (core schema, no custom
 * tags, unique keys, few aliases; see `parseHParamsYaml`). Known hyperparameter aliases are
 * renamed to the shared vocabulary.
 */
export async function readYamlMapping(abs: string, rel: string): Promise<ReadResult<Record<string, HParamValue>>> {
  const text = await readTextFile(abs, rel);
  if (!text.ok) return text;
  const parsed = parseHParamsYaml(text.value);
  return parsed ? { ok: true, value: parsed } : { ok: false, reason: `${rel}: not a safe YAML mapping (invalid YAML, duplicate keys or too many aliases)` };
}

/**
 * The complete lines of the last {@link TAIL_BYTES} of a file, last line last (a first line cut
 * by the window is dropped). Reads one positioned chunk, however long the log is.
 */
export async function readTailLines(abs: string, rel: string): Promise<ReadResult<string[]>> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(abs, 'r');
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: `${rel}: not a file` };
    const n = Math.min(st.size, TAIL_BYTES);
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, st.size - n);
    const lines = buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/);
    if (st.size > n) lines.shift();
    return { ok: true, value: lines };
  } catch (err) {
    return { ok: false, reason: `${rel}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  } finally {
    await fh?.close();
  }
}

/**
 * The files under a per-key folder (MLflow `params/`, `tags/`) as key -> absolute path; nested
 * folders make `a/b` keys. Symlinks are not followed; bounded by {@link MAX_KEY_FILES} entries
 * and {@link MAX_KEY_DEPTH} levels (`truncated` says the bound was hit).
 */
export async function listKeyFiles(dir: string): Promise<{ files: Map<string, string>; truncated: boolean }> {
  const files = new Map<string, string>();
  let budget = MAX_KEY_FILES;
  let truncated = false;
  const walk = async (at: string, prefix: string, depth: number): Promise<void> => {
    const entries = await fsp.readdir(at, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (--budget < 0) {
        truncated = true;
        return;
      }
      const key = prefix + entry.name;
      if (entry.isFile()) files.set(key, path.join(at, entry.name));
      else if (entry.isDirectory() && depth < MAX_KEY_DEPTH) await walk(path.join(at, entry.name), `${key}/`, depth + 1);
    }
  };
  await walk(dir, '', 1);
  return { files, truncated };
}

/** Reads a small value file whole (at most {@link MAX_VALUE_FILE_BYTES}): one open, one read. */
export async function readValueFile(abs: string, rel: string): Promise<ReadResult<string>> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(abs, 'r');
    const buf = Buffer.alloc(MAX_VALUE_FILE_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_VALUE_FILE_BYTES) return { ok: false, reason: `${rel}: too large for a value (limit ${MAX_VALUE_FILE_BYTES} bytes)` };
    return { ok: true, value: buf.subarray(0, bytesRead).toString('utf8') };
  } catch (err) {
    return { ok: false, reason: `${rel}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  } finally {
    await fh?.close();
  }
}

/** `fn` over `items` with at most `width` calls in flight, results in order (many small files read at once). */
export async function mapConcurrent<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/** True when `abs` is strictly inside `root` (both resolved the same way: both real paths, or both as given). */
export function isInside(root: string, abs: string): boolean {
  const rel = path.relative(root, abs);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** True when `name` is a safe relative key path (`a/b`): no empty, `.` or `..` parts, no backslashes. */
export function isSafeKeyPath(name: string): boolean {
  return name.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\\') && !part.includes('\0'));
}
