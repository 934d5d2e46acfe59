/**
 * A generated workspace of TensorBoard-logged Lightning runs for the scan benchmark:
 * `tb_logs/exp/version_N/` with `hparams.yaml`, one event file of `scalars` scalars (a
 * `train_loss` every step, a `val_acc` every 50th) and `checkpoints/epoch=E-step=S.ckpt`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EventSpec } from './tfeventsWriter';
import { encodeEventFile, encodeEvent, frameRecord } from './tfeventsWriter';

/** What {@link generateTrackerZoo} wrote. */
export interface TrackerZoo {
  dir: string;
  runIds: string[];
  /** Held-out accuracy each run's checkpoint step carries (float32 values), by run id. */
  heldout: Record<string, number>;
  eventBytes: number;
}

const VAL_EVERY = 50;

/** Writes `runs` runs of `scalars` scalars each under `dir`. */
export async function generateTrackerZoo(dir: string, runs: number, scalars: number): Promise<TrackerZoo> {
  // The shared history is encoded once; each run appends its own final val_acc at its checkpoint step.
  const history: EventSpec[] = [];
  for (let step = 1; step < scalars; step++) {
    const tag = step % VAL_EVERY === 0 ? 'val_acc' : 'train_loss';
    history.push({ step, wallTime: 1_700_000_000 + step, scalars: [{ tag, value: tag === 'val_acc' ? 0.5 + step / (4 * scalars) : 2 / step }] });
  }
  const body = encodeEventFile(history);
  const runIds: string[] = [];
  const heldout: Record<string, number> = {};
  let eventBytes = 0;
  for (let r = 0; r < runs; r++) {
    const id = `tb_logs/exp/version_${r}`;
    const run = path.join(dir, id);
    await fsp.mkdir(path.join(run, 'checkpoints'), { recursive: true });
    const value = Math.fround(0.8 + (r % 100) / 1000);
    const file = Buffer.concat([body, frameRecord(encodeEvent({ step: scalars, scalars: [{ tag: 'val_acc', value }] }))]);
    await fsp.writeFile(path.join(run, `events.out.tfevents.1700000000.bench.${r}.0`), file);
    await fsp.writeFile(path.join(run, 'hparams.yaml'), `lr: ${(r + 1) / 10000}\nmax_epochs: 3\nseed: ${r}\n`);
    await fsp.writeFile(path.join(run, 'checkpoints', `epoch=2-step=${scalars}.ckpt`), 'weights are not read by the scan');
    runIds.push(id);
    heldout[id] = value;
    eventBytes += file.length;
  }
  return { dir, runIds, heldout, eventBytes };
}
