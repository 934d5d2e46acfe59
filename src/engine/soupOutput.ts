import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from './errors';

const TEMP_PREFIX = '.tmp-';

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
  try {
    await fsp.mkdir(outRoot, { recursive: true });
  } catch (err) {
    throw new SoupError('WRITE_FAILED', `cannot create the output folder (${(err as NodeJS.ErrnoException).code})`, outRoot);
  }
  // Claim the name in this process before any await can let another cook pick it too: two
  // cooks of one process would otherwise share one temp folder and delete each other's.
  let finalDir = path.join(outRoot, name);
  for (let k = 2; ; k++) {
    if (!claimed.has(finalDir) && !(await exists(finalDir)) && !claimed.has(finalDir)) break;
    finalDir = path.join(outRoot, `${name}-${k}`);
  }
  claimed.add(finalDir);
  const planned = finalDir;
  const tmp = path.join(outRoot, `${TEMP_PREFIX}${path.basename(finalDir)}-${process.pid}`);
  try {
    await fsp.mkdir(tmp);
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
    if (finalDir !== planned) await renamed?.(finalDir);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    if (err instanceof SoupError) throw err;
    throw new SoupError('WRITE_FAILED', `cannot write the soup (${(err as Error).message})`, finalDir);
  } finally {
    claimed.delete(finalDir);
  }
  return finalDir;
}

/** Removes temp folders left by cooks whose process no longer runs (killed mid-write). */
export async function removeStaleTemps(outRoot: string): Promise<void> {
  const entries = await fsp.readdir(outRoot).catch(() => [] as string[]);
  for (const e of entries) {
    const m = /^\.tmp-.*-(\d+)$/.exec(e);
    if (m && !isAlive(Number(m[1]))) await fsp.rm(path.join(outRoot, e), { recursive: true, force: true });
  }
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
