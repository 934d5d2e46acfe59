/**
 * The tracker scan benchmark: every run of a generated TensorBoard workspace read with the
 * engine's reader, timing the whole scan and the longest the event loop was held (what decides
 * whether the extension host stays interactive).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as path from 'node:path';
import { listRunFolder } from '../../src/engine/discovery/runFolder';
import { readTensorBoardRun } from '../../src/engine/trackers/tensorboardRun';

/** Scans `args.workspace`'s `args.runIds`; checks each held-out value against `args.heldout`. */
export async function trackerScan(args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const root = args.workspace as string;
  const runIds = args.runIds as string[];
  const heldout = args.heldout as Record<string, number>;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  let wrong = 0;
  for (const id of runIds) {
    const folder = await listRunFolder(root, path.join(root, id));
    const run = folder && (await readTensorBoardRun(folder));
    if (Math.fround(run?.heldout ?? NaN) !== heldout[id]) wrong++;
  }
  const scanMs = performance.now() - started;
  delay.disable();
  return { runs: runIds.length, scanMs, msPerRun: scanMs / runIds.length, maxEventLoopBlockMs: delay.max / 1e6, p99EventLoopBlockMs: delay.percentile(99) / 1e6, wrong };
}
