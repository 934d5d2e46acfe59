/**
 * Seeded mutation fuzz of the tracker readers, in the style of fuzz.test.ts: event files mutated
 * as bytes (framing and checksums) and as re-framed payloads (the Event decoder behind valid
 * checksums), and the MLflow / W&B / hparams text files mutated as text. Reading an event file
 * never throws for its content (bad records are counted), and a tracker run always comes back
 * well formed: an accuracy in [0, 1] with its source, or a reason naming the run.
 *
 * Deterministic: fixed seeds; MODEL_SOUP_FUZZ_SCALE / MODEL_SOUP_FUZZ_SEED as in fuzz.test.ts.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listRunFolder } from '../../src/engine/discovery/runFolder';
import type { RunFolder } from '../../src/engine/discovery/runFolder';
import { readEventScalars } from '../../src/engine/formats/tfevents';
import { readMlflowRun } from '../../src/engine/trackers/mlflowRun';
import { readTensorBoardRun } from '../../src/engine/trackers/tensorboardRun';
import type { TrackerRun } from '../../src/engine/trackers/trackerRun';
import { readWandbRun } from '../../src/engine/trackers/wandbRun';
import { encodeEvent, encodeEventFile, frameRecord } from '../../scripts/bench/tfeventsWriter';
import type { Mutation } from './fuzz/mutators';
import { mutateBinary, mutateText } from './fuzz/mutators';
import { FuzzTally } from './fuzz/outcome';
import { Prng } from './fuzz/prng';
import { REPO } from './helpers/paths';

const FIXTURE = path.join(REPO, 'test', 'fixtures', 'fashion-trackers');
const SCALE = Number(process.env.MODEL_SOUP_FUZZ_SCALE ?? '1') || 1;
const BASE_SEED = Number(process.env.MODEL_SOUP_FUZZ_SEED ?? '20240601') >>> 0;
const n = (count: number): number => Math.max(1, Math.round(count * SCALE));

/** Runs `iterations` mutations through `check`; every outcome must be a success (no throw at all). */
async function fuzz(name: string, seed: number, iterations: number, mutate: (rng: Prng) => Mutation, check: (m: Mutation) => Promise<void>): Promise<void> {
  const rng = new Prng(BASE_SEED ^ seed);
  const tally = new FuzzTally(name);
  for (let i = 0; i < iterations; i++) {
    const m = mutate(rng);
    await tally.run(i, m.description, name, () => check(m));
  }
  tally.assertClean();
  assert.equal(tally.ok, iterations, `${name}: ${tally.summary()}`);
}

/** A tracker run is well formed: an accuracy in [0, 1] with a source, or a reason naming the run; warnings name it too. */
function assertWellFormed(run: TrackerRun): void {
  JSON.stringify(run);
  if (run.heldout !== undefined) {
    assert.ok(Number.isFinite(run.heldout) && run.heldout >= 0 && run.heldout <= 1, `heldout ${run.heldout}`);
    assert.ok(run.metricsSource?.file.startsWith(run.id), `source ${JSON.stringify(run.metricsSource)}`);
    assert.equal(run.heldoutReason, undefined);
  } else {
    assert.ok(run.heldoutReason?.startsWith(run.id), `reason does not name ${run.id}: ${run.heldoutReason}`);
  }
  for (const w of run.warnings) assert.ok(w.startsWith(run.id), `warning does not name ${run.id}: ${w}`);
}

/** Splits a valid event file into its record payloads. */
function payloads(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < file.length;) {
    const len = Number(file.readBigUInt64LE(p));
    out.push(file.subarray(p + 12, p + 12 + len));
    p += 16 + len;
  }
  return out;
}

describe('fuzz: tracker readers turn mutated input into a result, never a throw', function () {
  this.timeout(180_000);
  let tmp: string;
  before(async () => {
    const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    tmp = await fsp.mkdtemp(path.join(base, 'soup-fuzz-trackers-'));
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const v3 = path.join(FIXTURE, 'lightning_logs', 'version_3');
  const synthetic = encodeEventFile([
    { step: 5, scalars: [{ tag: 'val_acc', value: 0.5, as: 'tensorFloat' }, { tag: 'val/acc', value: 0.25, as: 'tensorDouble' }] },
    { step: 9, scalars: [{ tag: 'val_acc', value: 0.75, as: 'tensorContent' }, { tag: 'train_loss', value: 1 }] },
  ]);

  it('event files: bytes mutated (framing, checksums, lengths)', async () => {
    const fixtureFile = (await fsp.readdir(v3)).find((f) => f.startsWith('events.out.tfevents.')) as string;
    const file = path.join(tmp, 'events.out.tfevents.1.h');
    for (const [k, valid] of [await fsp.readFile(path.join(v3, fixtureFile)), synthetic].entries()) {
      const total = payloads(valid).length;
      await fuzz(`event file bytes #${k}`, 70 + k, n(800), (rng) => mutateBinary(valid, rng), async (m) => {
        await fsp.writeFile(file, m.bytes);
        const read = await readEventScalars(file);
        assert.ok(read.records + read.skipped <= total + 64, `${read.records} + ${read.skipped} records from ${total}`);
        for (const points of read.series.values()) for (const p of points) assert.equal(typeof p.value, 'number');
      });
    }
  });

  it('event files: payloads mutated behind valid checksums (the Event decoder)', async () => {
    const file = path.join(tmp, 'events.out.tfevents.2.h');
    const records = payloads(synthetic);
    await fuzz('event payloads', 72, n(1500), (rng) => {
      const i = rng.range(1, records.length - 1);
      const m = mutateBinary(records[i], rng);
      const framed = records.map((r, j) => frameRecord(j === i ? m.bytes : r));
      return { bytes: Buffer.concat(framed), description: `record ${i}: ${m.description}` };
    }, async (m) => {
      await fsp.writeFile(file, m.bytes);
      const read = await readEventScalars(file);
      assert.equal(read.records + read.skipped, records.length, 'every record read or skipped, one each');
    });
    // A decoder error is counted, not fatal: an unknown wire type in the middle record.
    const broken = records.map((r, j) => frameRecord(j === 1 ? Buffer.concat([encodeEvent({ step: 1 }), Buffer.from([0x0e, 0])]) : r));
    await fsp.writeFile(file, Buffer.concat(broken));
    const read = await readEventScalars(file);
    assert.deepEqual([read.records, read.skipped], [records.length - 1, 1]);
  });

  describe('text files of tracker runs', () => {
    async function copyRun(src: string, name: string): Promise<string> {
      const dir = path.join(tmp, name);
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.cp(src, dir, { recursive: true });
      await fsp.chmod(dir, 0o755);
      return dir;
    }

    /** Mutates `target` in a copy of a fixture run and reads the run with `read`. */
    async function fuzzRun(name: string, seed: number, iterations: number, dir: string, target: string, read: (f: RunFolder) => Promise<TrackerRun>, holdsScore = false): Promise<void> {
      const abs = path.join(dir, target);
      const valid = await fsp.readFile(abs);
      await fsp.chmod(path.dirname(abs), 0o755);
      const outcomes = new Map<string, number>();
      await fuzz(name, seed, iterations, (rng) => mutateText(valid.toString('utf8'), rng), async (m) => {
        await fsp.rm(abs, { force: true });
        await fsp.writeFile(abs, m.bytes);
        const folder = await listRunFolder(tmp, dir);
        assert.ok(folder);
        const run = await read(folder);
        assertWellFormed(run);
        const outcome = run.heldout !== undefined ? 'scored' : 'unscored';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      });
      await fsp.rm(abs, { force: true });
      await fsp.writeFile(abs, valid);
      // Mutating the file that holds the score must reach both outcomes, or the checks are not exercised.
      if (holdsScore) assert.ok((outcomes.get('scored') ?? 0) > 0 && (outcomes.get('unscored') ?? 0) > 0, `${name}: ${[...outcomes]}`);
    }

    it('MLflow: meta.yaml, metrics/val_accuracy and a params file', async () => {
      const dir = await copyRun(path.join(FIXTURE, 'mlruns', '1', '0a6b5c6f0e2d4e4bb1f0b7e0c1d2a300'), 'mlflow-run');
      await fuzzRun('mlflow meta.yaml', 80, n(400), dir, 'meta.yaml', readMlflowRun);
      await fuzzRun('mlflow metrics/val_accuracy', 81, n(600), dir, 'metrics/val_accuracy', readMlflowRun, true);
      await fuzzRun('mlflow params/lr', 82, n(200), dir, 'params/lr', readMlflowRun);
    });

    it('W&B: wandb-summary.json, config.yaml and wandb-metadata.json', async () => {
      const dir = await copyRun(path.join(FIXTURE, 'wandb', 'run-20261101_093012-k3j9x2aa'), 'run-20261101_093012-k3j9x2aa');
      await fuzzRun('wandb-summary.json', 83, n(600), dir, 'files/wandb-summary.json', readWandbRun, true);
      await fuzzRun('wandb config.yaml', 84, n(400), dir, 'files/config.yaml', readWandbRun);
      await fuzzRun('wandb-metadata.json', 85, n(200), dir, 'files/wandb-metadata.json', readWandbRun);
    });

    it('TensorBoard: hparams.yaml', async () => {
      const dir = await copyRun(v3, 'version_3');
      await fuzzRun('tensorboard hparams.yaml', 86, n(300), dir, 'hparams.yaml', readTensorBoardRun);
    });
  });
});
