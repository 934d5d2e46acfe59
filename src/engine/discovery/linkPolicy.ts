/**
 * Where discovery may go. A scan stays inside the workspace: a symlink is followed only when
 * its target resolves inside the workspace or under a folder the user allowed, and never into
 * the kernel's virtual file systems. Whatever is not followed or cannot be listed is reported,
 * not silently dropped.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { clipText } from '../safeText';

/** A path the scan did not enter or read, and why (shown in the scan, never a silent omission). */
export interface SkippedPath {
  /** Workspace-relative POSIX path (undecodable bytes as `\xNN`). */
  path: string;
  reason: string;
}

/** Never entered, whatever the allowed roots say: reading them walks other processes' files or devices. */
export const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

/** The confinement of one scan: the workspace's real path, the allowed roots, and the skip log. */
export class LinkPolicy {
  private readonly reported = new Set<string>();

  private constructor(
    /** Real path of the workspace root. */
    readonly rootReal: string,
    /** Real paths of the user's allowed roots. */
    readonly allowedReal: readonly string[],
    private readonly onSkipped?: (s: SkippedPath) => void,
  ) {}

  /** Resolves the workspace and the allowed roots (roots that do not exist are ignored). */
  static async create(root: string, allowedRoots: readonly string[] = [], onSkipped?: (s: SkippedPath) => void): Promise<LinkPolicy> {
    const rootReal = await fsp.realpath(root).catch(() => path.resolve(root));
    const allowed: string[] = [];
    for (const r of allowedRoots) {
      const real = await fsp.realpath(path.resolve(r)).catch(() => undefined);
      if (real !== undefined) allowed.push(real);
    }
    return new LinkPolicy(rootReal, allowed, onSkipped);
  }

  /** True when a resolved path lies under the kernel's virtual file systems. */
  static isForbidden(real: string): boolean {
    return FORBIDDEN_ROOTS.some((f) => isInside(real, f));
  }

  /** True when `real` is under an allowed root (and not forbidden). */
  inAllowedRoot(real: string): boolean {
    return !LinkPolicy.isForbidden(real) && this.allowedReal.some((r) => isInside(real, r));
  }

  /** True when the scan may enter or read `real`: inside the workspace or an allowed root, never /proc, /sys, /dev. */
  mayFollow(real: string): boolean {
    return !LinkPolicy.isForbidden(real) && (isInside(real, this.rootReal) || this.inAllowedRoot(real));
  }

  /** Why a link to `real` is not followed, for the skip log. */
  refusal(real: string): string {
    const where = LinkPolicy.isForbidden(real) ? `${FORBIDDEN_ROOTS.join(', ')} are never scanned` : 'outside the workspace and the allowed roots (allowedRoots)';
    return `symlink to ${clipText(real, 120)}: ${where}; not followed`;
  }

  /** Records a skipped path once. */
  skip(relPath: string, reason: string): void {
    const key = `${relPath}\u0000${reason}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.onSkipped?.({ path: relPath, reason });
  }
}

/** True when `p` is `dir` or below it (both absolute, resolved). */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
