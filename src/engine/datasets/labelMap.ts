import { echoValue } from '../untrustedJson';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../errors';

/** Class names in the model's index order, and where they came from (for the report). */
export interface LabelMap {
  names: string[];
  /** `classes` (the config key), a `config.json` path, or `folder names`. */
  source: string;
}

/**
 * The class order for image folders, by the first rule that applies:
 * 1. `classes` of `modelsoups.json`: a list, or a `.json` (list or `{"id2label": ...}`) / `.txt`
 *    (one name a line) file relative to the workspace;
 * 2. `id2label` of a `config.json` in the first of `dirs` that has one (the graph's folder, the
 *    pretrained model's, then the runs');
 * 3. undefined: the caller falls back to sorted folder names (torchvision's rule).
 */
export function resolveLabelMap(classes: string[] | string | undefined, workspace: string, dirs: string[]): LabelMap | undefined {
  if (Array.isArray(classes)) return { names: classes, source: 'classes' };
  if (typeof classes === 'string') {
    const file = path.resolve(workspace, classes);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SoupError(existsSync(file) ? 'READ_FAILED' : 'FILE_NOT_FOUND', `cannot read the "classes" file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
    }
    if (file.toLowerCase().endsWith('.txt')) return { names: text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean), source: classes };
    const names = namesFromJson(parseJson(text, file), file);
    if (!names) throw new SoupError('CONFIG_INVALID', '"classes" file must hold a list of class names or {"id2label": {"0": name, ...}}', file);
    return { names, source: classes };
  }
  for (const dir of dirs) {
    const file = path.join(dir, 'config.json');
    if (!existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = parseJson(readFileSync(file, 'utf8'), file);
    } catch {
      continue; // a run's broken config.json is the run's problem, reported by discovery
    }
    const names = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'id2label' in raw ? namesFromJson(raw, file) : undefined;
    if (names) return { names, source: file };
  }
  return undefined;
}

/**
 * The class index of a folder name. Names match after `/` and `\` become `_` (a folder cannot
 * hold a slash: `T-shirt/top` is stored as `T-shirt_top`). An unknown name throws, naming the
 * folder and the nearest known names.
 */
export function classIndexOf(map: LabelMap, folderName: string, folderPath: string): number {
  const want = folderKey(folderName);
  const i = map.names.findIndex((n) => folderKey(n) === want);
  if (i >= 0) return i;
  const nearest = [...map.names].sort((a, b) => editDistance(folderKey(a), want) - editDistance(folderKey(b), want)).slice(0, 3);
  throw new SoupError('DATASET_MISMATCH', `class folder "${folderName}" is not a class of the label map (${labelSource(map)}); nearest: ${nearest.map((n) => `"${n}"`).join(', ')}`, folderPath);
}

function labelSource(map: LabelMap): string {
  return map.source === 'classes' ? '"classes" in modelsoups.json' : map.source;
}

function folderKey(name: string): string {
  return name.replace(/[\\/]/g, '_');
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SoupError('CONFIG_INVALID', `not valid JSON (${(err as Error).message})`, file);
  }
}

function namesFromJson(raw: unknown, file: string): string[] | undefined {
  if (Array.isArray(raw)) return raw.every((s) => typeof s === 'string') ? (raw as string[]) : undefined;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id2label = (raw as { id2label?: unknown }).id2label;
  if (typeof id2label !== 'object' || id2label === null) return undefined;
  const entries = Object.entries(id2label as Record<string, unknown>);
  const names: string[] = [];
  for (const [k, v] of entries) {
    const idx = Number(k);
    if (!Number.isInteger(idx) || idx < 0 || idx >= entries.length || typeof v !== 'string') {
      throw new SoupError('CONFIG_INVALID', `"id2label" must map 0..${entries.length - 1} to names; found ${echoValue(k)}: ${echoValue(v)}`, file);
    }
    names[idx] = v;
  }
  return names;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
