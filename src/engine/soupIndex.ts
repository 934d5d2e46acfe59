import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import type { SoupConfig } from './config';
import { resolveInWorkspace } from './config';
import { SoupError, errorMessage } from './errors';
import { REPORT_FILE, SOUP_MODEL_FILE, type SoupReport } from './report';
import { reportProblem } from '../shared/validation';

/** A soup folder whose `report.json` was read. Accuracies are fractions in [0, 1]. */
export interface SoupEntry {
  status: 'ok';
  /** Folder name under the output folder. */
  name: string;
  /** Absolute soup folder. */
  dir: string;
  reportPath: string;
  /** Absolute path of the soup model. */
  modelPath: string;
  method: string;
  /** Member run ids in the order they were added. */
  members: string[];
  createdAt: string;
  heldout?: number;
  shiftAvg?: number;
  /** The best individual ingredient's accuracies, the reference for a soup's gain. */
  bestIndividual: { id?: string; heldout?: number; shiftAvg?: number };
}

/** A soup folder whose report could not be used; `reason` says why. */
export interface UnreadableSoup {
  status: 'unreadable';
  name: string;
  dir: string;
  reason: string;
}

/** One folder under the output folder. */
export type SoupSummary = SoupEntry | UnreadableSoup;

/**
 * Lists the soups cooked in `workspace`: every `<output>/<name>/report.json`, newest first
 * (unreadable ones last, by name). Hidden and temporary folders (a cook still writing, or one
 * that was killed) are skipped; a folder with a missing or broken report is returned with a
 * reason instead of failing the whole listing. A missing output folder gives an empty list.
 */
export async function listSoups(workspace: string, config: SoupConfig): Promise<SoupSummary[]> {
  const outDir = resolveInWorkspace(workspace, config.output);
  let entries: Dirent[];
  try {
    entries = await fs.readdir(outDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SoupError('READ_FAILED', `cannot list the output folder (${errorMessage(err)})`, outDir);
  }
  const dirs = entries.filter((e) => e.isDirectory() && !isTemporaryName(e.name));
  const soups = await Promise.all(dirs.map((e) => summarize(path.join(outDir, e.name))));
  return soups.sort(compareSoups);
}

/** True for folder names a cook uses while writing, or that are hidden. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_') || /\.(tmp|partial)(\b|$)|~$|\.tmp-/.test(name);
}

/**
 * Reads and checks `<dir>/report.json`. Throws a READ_FAILED SoupError naming the file when it
 * is missing, not JSON, of another schema version, or lacks the fields a viewer needs.
 */
export async function readSoupReport(dir: string): Promise<SoupReport> {
  const file = path.join(dir, REPORT_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SoupError(missing ? 'FILE_NOT_FOUND' : 'READ_FAILED', missing ? `no ${REPORT_FILE} in this soup folder` : `cannot read (${errorMessage(err)})`, file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SoupError('READ_FAILED', `not valid JSON (${errorMessage(err)})`, file);
  }
  const problem = reportProblem(raw);
  if (problem) throw new SoupError('READ_FAILED', problem, file);
  return raw as SoupReport;
}

/** The soup model of the soup folder `dir` whose report is `report`. */
export function soupModelPath(dir: string, report: SoupReport): string {
  // The report stores a workspace-relative path; the folder may have been moved since.
  return path.join(dir, path.basename(report.soup.path || SOUP_MODEL_FILE));
}

async function summarize(dir: string): Promise<SoupSummary> {
  const name = path.basename(dir);
  try {
    const report = await readSoupReport(dir);
    const best = report.baselines.bestIndividual;
    return {
      status: 'ok',
      name,
      dir,
      reportPath: path.join(dir, REPORT_FILE),
      modelPath: soupModelPath(dir, report),
      method: report.method,
      members: report.soup.members,
      createdAt: report.createdAt,
      heldout: report.soup.metrics.heldout,
      shiftAvg: report.soup.metrics.shiftAvg,
      bestIndividual: { id: best.members[0], heldout: best.metrics.heldout, shiftAvg: best.metrics.shiftAvg },
    };
  } catch (err) {
    return { status: 'unreadable', name, dir, reason: err instanceof SoupError ? err.problem : errorMessage(err) };
  }
}

function compareSoups(a: SoupSummary, b: SoupSummary): number {
  if (a.status !== b.status) return a.status === 'ok' ? -1 : 1;
  if (a.status === 'ok' && b.status === 'ok' && a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.name.localeCompare(b.name);
}
