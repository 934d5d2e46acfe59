import { randomBytes } from 'node:crypto';
import { constants, readlinkSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SoupError } from './errors';

const TEMP_PREFIX = '.tmp-';
/** The file inside every temp folder this tool makes: what proves the folder is ours to remove. */
export const TEMP_MARKER = '.model-soups-temp';
/** A temp folder of ours whose owner cannot be checked (another host or container) is removed only after this long. */
export const STALE_TEMP_AGE_MS = 24 * 60 * 60 * 1000;
const MARKER_TOOL = 'model-soups';
const MAX_MARKER_BYTES = 4096;

/** What a temp folder's marker records: a random cook id and who made it. */
interface TempMarker {
  tool: typeof MARKER_TOOL;
  cookId: string;
  host: string;
  /** The PID namespace (`/proc/self/ns/pid`): PIDs of two containers on one host are not comparable. */
  pidNamespace: string;
  pid: number;
  createdAt: string;
}

/** Soup folders being written by cooks of this process (not yet renamed into place). */
const claimed = new Set<string>();

/**
 * Creates `<outRoot>/<name>` atomically: `fill` writes into a hidden temp folder beside it,
 * which is renamed into place only when everything is written. On any failure or abort the
 * temp folder is removed, so a soup folder is either complete or absent. When `<name>` exists,
 * `-2`, `-3`, ... is appended. Returns the final folder.
 */
export async function writeAtomically(
  outRoot: string,
  name: string,
  signal: AbortSignal | undefined,
  fill: (tmpDir: string, finalDir: string) => Promise<void>,
  /** Called when another process took the planned name meanwhile and the folder got another. */
  renamed?: (finalDir: string) => Promise<void>,
): Promise<string> {
  if (!/^[^/\\.][^/\\]*$/.test(name)) throw new SoupError('CONFIG_INVALID', `soup name "${name}" must be a plain folder name (no slashes, not starting with ".")`);
  await makeDirs(outRoot);
  // Claim the name in this process before any await can let another cook pick it too: two
  // cooks of one process would otherwise share one temp folder and delete each other's.
  let finalDir = path.join(outRoot, name);
  for (let k = 2; ; k++) {
    if (!claimed.has(finalDir) && !(await exists(finalDir)) && !claimed.has(finalDir)) break;
    finalDir = path.join(outRoot, `${name}-${k}`);
  }
  claimed.add(finalDir);
  const planned = finalDir;
  let tmp: string | undefined;
  try {
    tmp = await createTemp(outRoot, path.basename(finalDir));
    await fill(tmp, finalDir);
    if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    // Another process may have taken the name meanwhile: rename never replaces a soup folder.
    for (let k = 2; ; k++) {
      try {
        await fsp.rename(tmp, finalDir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || k > 100) throw err;
        claimed.delete(finalDir);
        finalDir = path.join(outRoot, `${name}-${k}`);
        claimed.add(finalDir);
      }
    }
    // The marker goes only after the rename: a kill in between leaves a complete soup with a
    // hidden file, never a temp folder that nothing can prove is ours.
    await fsp.unlink(path.join(finalDir, TEMP_MARKER)).catch(() => undefined);
    if (finalDir !== planned) await renamed?.(finalDir);
  } catch (err) {
    if (tmp !== undefined) await fsp.rm(tmp, { recursive: true, force: true });
    if (err instanceof SoupError) throw err;
    throw new SoupError('WRITE_FAILED', `cannot write the soup (${(err as Error).message})`, finalDir);
  } finally {
    claimed.delete(finalDir);
  }
  return finalDir;
}

/**
 * Checks before a cook that `outRoot` can take a soup: creates it if needed (without Node's
 * recursive mkdir, which never returns under /proc) and creates and removes a marked temp
 * folder in it. Folders it created are removed again. Throws WRITE_FAILED naming the folder:
 * a file in the way, a read-only, immutable or virtual file system.
 */
export async function checkOutputWritable(outRoot: string): Promise<void> {
  const created = await makeDirs(outRoot);
  try {
    const probe = await createTemp(outRoot, 'probe');
    await removeOwnTemp(probe);
  } catch (err) {
    throw new SoupError('WRITE_FAILED', `the output folder cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was cooked`, outRoot);
  } finally {
    for (const dir of created.reverse()) await fsp.rmdir(dir).catch(() => undefined);
  }
}

/**
 * Removes the temp folders this tool left in `outRoot` when a cook was killed mid-write, and
 * nothing else. A folder is removed only when it holds this tool's marker (with the cook id its
 * name carries) and its cook is provably gone: same host and PID namespace and the process no
 * longer runs, or (another host, another container) the marker is older than `staleAfterMs`.
 * Links are never followed and a temp folder holding a sub-folder is left alone (a cook never
 * makes one). Returns the names removed.
 */
export async function removeStaleTemps(outRoot: string, opts: { staleAfterMs?: number; now?: number } = {}): Promise<string[]> {
  const staleAfter = opts.staleAfterMs ?? STALE_TEMP_AGE_MS;
  const now = opts.now ?? Date.now();
  const entries = await fsp.readdir(outRoot, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(outRoot, e.name);
    const marker = await readMarker(dir);
    if (!marker || !e.name.endsWith(`-${marker.cookId}`)) continue;
    const here = marker.value.host === os.hostname() && marker.value.pidNamespace === pidNamespace();
    const dead = here ? !isAlive(marker.value.pid) : now - marker.mtimeMs > staleAfter;
    if (dead && (await removeOwnTemp(dir))) removed.push(e.name);
  }
  return removed;
}

/** Makes a temp folder `.tmp-<name>-<cookId>` in `outRoot` holding the marker. */
async function createTemp(outRoot: string, name: string): Promise<string> {
  const cookId = randomBytes(8).toString('hex');
  const dir = path.join(outRoot, `${TEMP_PREFIX}${name}-${cookId}`);
  await fsp.mkdir(dir);
  const marker: TempMarker = { tool: MARKER_TOOL, cookId, host: os.hostname(), pidNamespace: pidNamespace(), pid: process.pid, createdAt: new Date().toISOString() };
  await fsp.writeFile(path.join(dir, TEMP_MARKER), JSON.stringify(marker), { flag: 'wx' });
  return dir;
}

/** The marker of a temp folder, or undefined when it has none of ours (never following a link). */
async function readMarker(dir: string): Promise<{ value: TempMarker; cookId: string; mtimeMs: number } | undefined> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path.join(dir, TEMP_MARKER), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_MARKER_BYTES) return undefined;
    const v = JSON.parse(await fh.readFile('utf8')) as Partial<TempMarker>;
    const valid = v.tool === MARKER_TOOL && typeof v.cookId === 'string' && /^[0-9a-f]{16}$/.test(v.cookId)
      && typeof v.host === 'string' && typeof v.pidNamespace === 'string' && Number.isInteger(v.pid);
    return valid ? { value: v as TempMarker, cookId: v.cookId as string, mtimeMs: st.mtimeMs } : undefined;
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/**
 * Removes one of our temp folders without recursing: its files and links are unlinked (a link
 * is removed, never followed), the marker last, then the folder. A sub-folder means it is not
 * what a cook leaves: nothing is removed. Returns true when the folder is gone.
 */
async function removeOwnTemp(dir: string): Promise<boolean> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries || entries.some((e) => e.isDirectory())) return false;
  try {
    for (const e of entries) if (e.name !== TEMP_MARKER) await fsp.unlink(path.join(dir, e.name));
    await fsp.unlink(path.join(dir, TEMP_MARKER));
    await fsp.rmdir(dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * `mkdir -p` that fails instead of hanging: Node's `mkdir(..., { recursive: true })` loops
 * forever when the kernel answers ENOENT for an existing parent (/proc). Returns the folders it
 * created, outermost first. Throws WRITE_FAILED naming the folder that is in the way.
 */
async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let cur = path.resolve(dir); ; ) {
    const st = await fsp.stat(cur).catch((err: NodeJS.ErrnoException) => err);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) throw new SoupError('WRITE_FAILED', 'cannot create the output folder: this is not a folder', cur);
      break;
    }
    // ENOTDIR: a file further up is in the way; walking up names it.
    if (st.code !== 'ENOENT' && st.code !== 'ENOTDIR') throw new SoupError('WRITE_FAILED', `cannot create the output folder (${st.code ?? st.message})`, cur);
    missing.push(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  missing.reverse();
  for (const d of missing) {
    try {
      await fsp.mkdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SoupError('WRITE_FAILED', `cannot create the output folder (${(err as NodeJS.ErrnoException).code})`, d);
    }
  }
  return missing;
}

let ownPidNamespace: string | undefined;
function pidNamespace(): string {
  if (ownPidNamespace === undefined) {
    try {
      ownPidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      ownPidNamespace = '';
    }
  }
  return ownPidNamespace;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}
