import type { Dirent } from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../errors';
import type { SkippedFile } from './evalDataset';
import { IMAGE_EXTENSIONS } from './imageDecode';

/** One class folder of an image-folder dataset. */
export interface ClassFolder {
  name: string;
  /** Absolute path. */
  dir: string;
  /** Absolute image paths, sorted. */
  files: string[];
}

/** What a folder holds: class folders, and the files that will not be read (and why). */
export interface FolderListing {
  classes: ClassFolder[];
  skipped: SkippedFile[];
}

// Deeper trees are not image datasets; the bound also stops a pathological tree early.
const MAX_DEPTH = 16;

/**
 * Lists `<root>/<class>/<files>` (files at any depth below a class folder, as torchvision's
 * ImageFolder). Symbolic links are followed only when their target is inside `allowedRoots`
 * (the workspace and the dataset folder); others are skipped and counted, like non-image files.
 * Hidden entries (`.DS_Store`, `.ipynb_checkpoints`) are ignored. Throws FILE_NOT_FOUND /
 * DATASET_MISMATCH for a missing root or one without class folders.
 */
export async function listImageFolder(root: string, allowedRoots: string[], signal?: AbortSignal): Promise<FolderListing> {
  const skipped: SkippedFile[] = [];
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/');
  const inside = (real: string) => allowedRoots.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  const visited = new Set<string>();

  /** The kind of an entry, following a link only when it stays inside. */
  const kindOf = async (full: string, e: Dirent): Promise<'dir' | 'file' | undefined> => {
    if (e.isDirectory()) return 'dir';
    if (e.isFile()) return 'file';
    if (!e.isSymbolicLink()) return undefined;
    const real = await fsp.realpath(full).catch(() => undefined);
    if (!real) {
      skipped.push({ file: rel(full), reason: 'broken symbolic link' });
      return undefined;
    }
    if (!inside(real)) {
      skipped.push({ file: rel(full), reason: 'symbolic link to outside the workspace; not followed' });
      return undefined;
    }
    const st = await fsp.stat(real).catch(() => undefined);
    return st?.isDirectory() ? 'dir' : st?.isFile() ? 'file' : undefined;
  };

  const walk = async (dir: string, depth: number, out: string[]): Promise<void> => {
    if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    const real = await fsp.realpath(dir);
    if (visited.has(real)) return; // a link loop
    visited.add(real);
    if (depth > MAX_DEPTH) {
      skipped.push({ file: rel(dir), reason: `deeper than ${MAX_DEPTH} levels; not read` });
      return;
    }
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      const kind = await kindOf(full, e);
      if (kind === 'dir') await walk(full, depth + 1, out);
      else if (kind === 'file') {
        if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(full);
        else skipped.push({ file: rel(full), reason: 'not a JPEG, PNG or WebP file' });
      }
    }
  };

  let entries: Dirent[];
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SoupError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'READ_FAILED', code === 'ENOENT' ? 'dataset folder not found' : `cannot read the dataset folder (${code ?? (err as Error).message})`, root);
  }
  visited.add(await fsp.realpath(root));
  const classes: ClassFolder[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(root, e.name);
    const kind = await kindOf(full, e);
    if (kind === 'file') skipped.push({ file: rel(full), reason: 'not inside a class folder' });
    if (kind !== 'dir') continue;
    const files: string[] = [];
    await walk(full, 1, files);
    classes.push({ name: e.name, dir: full, files: files.sort() });
  }
  if (classes.length === 0) {
    throw new SoupError('DATASET_MISMATCH', 'no class folders: an image dataset is laid out as <folder>/<class name>/<image files>', root);
  }
  return { classes, skipped };
}
