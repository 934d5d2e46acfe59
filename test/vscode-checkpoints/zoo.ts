// Shared by the checkpoint and tracker workspace suites: the fixture's expected.json as the
// tests compare against it.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The parts of a checkpoint zoo's expected.json these suites read. */
export interface ZooExpected {
  ingredients: { id: string; source?: string; dtype: string; heldout_acc_in_metrics: number }[];
  rejected: { id: string; status: string; reason: string }[];
  sorted_by_heldout: string[];
  greedy_soup: { members: string[]; correct: Record<string, number> };
}

/** The fixture folder `test/fixtures/<zoo>` of the repository (this file runs from out/test/vscode-checkpoints). */
export function zooDir(zoo: string): string {
  return path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', zoo);
}

/**
 * The zoo's expected.json and how its ids map to the project's run ids: expected.json names a
 * Trainer run with checkpoints by the checkpoint folder (`runs/ft-07/checkpoint-141`), the tree by
 * the run folder (`runs/ft-07`).
 */
export function readZoo(zoo: string): { expected: ZooExpected; runId: (id: string) => string } {
  const expected = JSON.parse(readFileSync(path.join(zooDir(zoo), 'expected.json'), 'utf8')) as ZooExpected;
  const runFolders = new Map(expected.ingredients.filter((i) => i.source && i.id.startsWith(`${i.source}/`)).map((i) => [i.id, i.source as string]));
  return { expected, runId: (id) => runFolders.get(id) ?? id };
}
