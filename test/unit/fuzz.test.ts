/**
 * Bounded, seeded mutation fuzz of every reader: each valid input is mutated a few hundred to a
 * few thousand times (bit flips, byte insert/delete, truncation, random splices, integer and
 * varint boundary values; text readers also get token swaps like NaN/Infinity/strings for
 * numbers, YAML aliases, dropped lines). Every outcome must be a success or a typed error: a
 * SoupError with a code of the union whose message names the file. Run readers that report
 * broken runs in the record (metrics) must return a record whose reason names the file.
 *
 * Deterministic: fixed seeds. Scale with MODEL_SOUP_FUZZ_SCALE=4 (or a new MODEL_SOUP_FUZZ_SEED)
 * for a longer local run.
 */
import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { SoupError } from '../../src/engine/errors';
import { readHfTrainerRun } from '../../src/engine/discovery/hfTrainer';
import { readLightningRun } from '../../src/engine/discovery/lightning';
import { listRunFolder } from '../../src/engine/discovery/runFolder';
import { readPlainRun } from '../../src/engine/discovery/plainRun';
import type { RunRecord } from '../../src/engine/discovery/runRecord';
import { parseNpy } from '../../src/engine/formats/npy';
import { readNpz } from '../../src/engine/formats/npz';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { readSafetensors } from '../../src/engine/formats/safetensors';
import { loadWeights } from '../../src/engine/soups/weights';
import { encodeNpy, smallDataset, smallSafetensors } from './fuzz/builders';
import type { HotRanges, Mutation } from './fuzz/mutators';
import { mutateBinary, mutateText } from './fuzz/mutators';
import { FuzzTally } from './fuzz/outcome';
import { Prng } from './fuzz/prng';

const REPO = path.resolve(__dirname, '../../..');
const ZOO = path.join(REPO, 'examples/fashion-soup');
const SCALE = Number(process.env.MODEL_SOUP_FUZZ_SCALE ?? '1') || 1;
const BASE_SEED = Number(process.env.MODEL_SOUP_FUZZ_SEED ?? '20240601') >>> 0;
const n = (count: number): number => Math.max(1, Math.round(count * SCALE));

/** Figures for docs/reliability.md: printed once at the end. */
const summaries: string[] = [];

/** Mutations of a valid input, each checked with `check`; the tally must stay clean. */
async function fuzz(
  parser: string,
  seed: number,
  iterations: number,
  valid: Buffer,
  mutate: (buf: Buffer, rng: Prng) => Mutation,
  check: (tally: FuzzTally, i: number, m: Mutation) => Promise<void>,
): Promise<FuzzTally> {
  const rng = new Prng(BASE_SEED ^ seed);
  const tally = new FuzzTally(parser);
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const started = Date.now();
  for (let i = 0; i < iterations; i++) {
    await check(tally, i, mutate(valid, rng));
    if (i % 50 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  const grew = (rssPeak - rssBefore) / 2 ** 20;
  summaries.push(`${tally.summary()} (${Date.now() - started} ms, RSS +${grew.toFixed(0)} MiB)`);
  tally.assertClean();
  assert.equal(tally.total, iterations);
  // No reader may allocate far beyond its small input: RSS growth stays bounded.
  assert.ok(grew < 768, `${parser}: RSS grew by ${grew.toFixed(0)} MiB`);
  return tally;
}

/** A run record is well formed: ok with an accuracy in [0, 1], or not ok with a reason naming the file or run. */
function assertRecord(record: RunRecord, mustName: string): void {
  assert.ok(['ok', 'unscored', 'unreadable'].includes(record.status), `status ${record.status}`);
  JSON.stringify(record); // serialisable (no BigInt, no cycles)
  if (record.status === 'ok') {
    assert.equal(typeof record.heldout, 'number');
    assert.ok(Number.isFinite(record.heldout) && (record.heldout as number) >= 0 && (record.heldout as number) <= 1, `heldout ${record.heldout}`);
    assert.ok(record.metricsSource?.file, 'ok without a metrics source');
  } else {
    assert.ok(record.reason && record.reason.includes(mustName), `reason does not name ${mustName}: ${record.reason}`);
  }
}

describe('fuzz: every reader turns mutated input into a result or a typed error', function () {
  this.timeout(180_000);
  let tmp: string;
  before(async () => {
    // tmpfs when available: thousands of small writes.
    const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    tmp = await fsp.mkdtemp(path.join(base, 'soup-fuzz-'));
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
    if (summaries.length > 0) console.log(`      fuzz figures (seed ${BASE_SEED}, scale ${SCALE}):\n${summaries.map((s) => `        ${s}`).join('\n')}`);
  });

  it('the harness counts untyped errors, errors not naming the file, and hangs as failures', async () => {
    const tally = new FuzzTally('self-test');
    await tally.run(0, 'ok', 'f', async () => 1);
    await tally.run(1, 'typed', 'f', async () => {
      throw new SoupError('NPY_INVALID', 'bad', 'f');
    });
    await tally.run(2, 'untyped', 'f', async () => {
      throw new RangeError('offset out of range');
    });
    await tally.run(3, 'unnamed', 'f', async () => {
      throw new SoupError('NPY_INVALID', 'bad', 'other');
    });
    await tally.run(4, 'hang', 'f', () => new Promise(() => undefined), 50);
    assert.equal(tally.ok, 1);
    assert.equal(tally.errors.get('NPY_INVALID'), 1);
    assert.equal(tally.failures.length, 3);
    assert.match(tally.failures.join('\n'), /#2 \(untyped\).*RangeError[\s\S]*#3 \(unnamed\).*does not name f[\s\S]*#4 \(hang\).*HANG/);
    assert.throws(() => tally.assertClean(), /3 of 5 self-test mutations failed/);
  });

  it('safetensors: a small file (header, offsets, data)', async () => {
    const valid = smallSafetensors();
    const file = path.join(tmp, 'small.safetensors');
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    const hot: HotRanges = [[0, headerEnd]];
    await fuzz('safetensors', 1, n(2000), valid, (b, r) => mutateBinary(b, r, hot), async (tally, i, m) => {
      await fsp.writeFile(file, m.bytes);
      await tally.run(i, m.description, file, () => readSafetensors(file));
    });
  });

  it('safetensors: the real ft-07 model.safetensors (mutations in its header)', async () => {
    const valid = await fsp.readFile(path.join(ZOO, 'runs/ft-07/model.safetensors'));
    const file = path.join(tmp, 'model.safetensors');
    const hot: HotRanges = [[0, 8 + Number(valid.readBigUInt64LE(0))]];
    await fuzz('safetensors (real)', 2, n(300), valid, (b, r) => mutateBinary(b, r, hot), async (tally, i, m) => {
      await fsp.writeFile(file, m.bytes);
      await tally.run(i, m.description, file, () => readSafetensors(file));
    });
  });

  it('npy: arrays of versions 1.0, 2.0 and 3.0', async () => {
    const specs = [
      encodeNpy({ descr: '<f4', shape: [3, 4], data: new Uint8Array(48).map((_, i) => i) }),
      encodeNpy({ descr: '<i8', shape: [5], data: new Uint8Array(40), version: 2 }),
      encodeNpy({ descr: '|u1', shape: [2, 2, 2], data: new Uint8Array(8), version: 3 }),
    ];
    let k = 0;
    for (const valid of specs) {
      const hot: HotRanges = [[0, valid.length - (k === 0 ? 48 : k === 1 ? 40 : 8)]];
      await fuzz(`npy v${k + 1}`, 10 + k, n(1000), valid, (b, r) => mutateBinary(b, r, hot), async (tally, i, m) => {
        await tally.run(i, m.description, 'array.npy', async () => parseNpy(m.bytes, 'array.npy'));
      });
      k++;
    }
  });

  it('npz: small stored and deflated datasets (zip structure and the arrays inside)', async () => {
    const file = path.join(tmp, 'data.npz');
    for (const deflate of [false, true]) {
      const valid = smallDataset(4, deflate);
      await fuzz(`npz (${deflate ? 'deflated' : 'stored'})`, deflate ? 21 : 20, n(1500), valid, (b, r) => mutateBinary(b, r), async (tally, i, m) => {
        await fsp.writeFile(file, m.bytes);
        await tally.run(i, m.description, file, () => readNpz(file, ['x', 'y']));
      });
    }
  });

  it('npz: the real heldout_val.npz (mutations in zip headers and array headers)', async () => {
    const valid = await fsp.readFile(path.join(ZOO, 'data/heldout_val.npz'));
    const file = path.join(tmp, 'heldout.npz');
    // Local headers + deflate stream start, and the central directory + end record.
    const cd = valid.readUInt32LE(valid.length - 6);
    const hot: HotRanges = [[0, 200], [cd - 64, valid.length]];
    await fuzz('npz (real)', 22, n(100), valid, (b, r) => mutateBinary(b, r, hot), async (tally, i, m) => {
      await fsp.writeFile(file, m.bytes);
      await tally.run(i, m.description, file, () => readNpz(file, ['x', 'y']));
    });
  });

  it('ONNX: the real sweep-a02 model (structure, then its weights)', async () => {
    const source = path.join(ZOO, 'sweep-a02/model.onnx');
    const valid = await fsp.readFile(source);
    const info = await readOnnxModel(source);
    // Mutate the structure (everything but weight bytes) most of the time.
    const hot: [number, number][] = [];
    let at = 0;
    const inline = info.weights.flatMap((w) => (w.data.kind === 'inline' ? [[w.data.offset, w.data.offset + w.data.length] as const] : [])).sort((a, b) => a[0] - b[0]);
    for (const [s, e] of inline) {
      if (s > at) hot.push([at, s]);
      at = e;
    }
    if (at < valid.length) hot.push([at, valid.length]);
    const file = path.join(tmp, 'model.onnx');
    await fuzz('onnx', 30, n(2000), valid, (b, r) => mutateBinary(b, r, hot), async (tally, i, m) => {
      await fsp.writeFile(file, m.bytes);
      await tally.run(i, m.description, file, async () => {
        const model = await readOnnxModel(file);
        await loadWeights(model);
      });
    });
  });

  describe('metrics and config', () => {
    const MODEL_STUB = 'not parsed by the run readers, only stat-ed';

    async function runFolder(name: string, files: Record<string, string | Buffer>): Promise<string> {
      const dir = path.join(tmp, name);
      await fsp.mkdir(dir, { recursive: true });
      for (const [rel, content] of Object.entries(files)) {
        await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fsp.writeFile(path.join(dir, rel), content);
      }
      return dir;
    }

    /** Mutates `target` inside a run folder and reads the run with `read`; the record must be well formed. */
    async function fuzzRun(
      parser: string,
      seed: number,
      iterations: number,
      dir: string,
      target: string,
      read: (f: NonNullable<Awaited<ReturnType<typeof listRunFolder>>>) => Promise<RunRecord>,
    ): Promise<FuzzTally> {
      const valid = await fsp.readFile(path.join(dir, target));
      const abs = path.join(dir, target);
      const runId = path.relative(tmp, dir).split(path.sep).join('/');
      const statuses = new Map<string, number>();
      const tally = await fuzz(parser, seed, iterations, valid, (b, r) => mutateText(b.toString('utf8'), r), async (t, i, m) => {
        await fsp.writeFile(abs, m.bytes);
        await t.run(i, m.description, abs, async () => {
          const folder = await listRunFolder(tmp, dir);
          assert.ok(folder);
          const record = await read(folder);
          statuses.set(record.status, (statuses.get(record.status) ?? 0) + 1);
          try {
            // The reason names the run folder; targeted tests in malformed.test.ts check exact files.
            assertRecord(record, runId);
          } catch (err) {
            // Not a SoupError: the tally records it as a failure with the mutation.
            throw new Error(`bad record: ${(err as Error).message}`);
          }
        });
      });
      summaries.push(`  ${parser} records: ${[...statuses.entries()].sort().map(([s, c]) => `${s} ${c}`).join(', ')}`);
      // The mutations must reach both outcomes, or the fuzz is not exercising the checks.
      assert.ok((statuses.get('ok') ?? 0) > 0 && (statuses.get('unscored') ?? 0) > 0 || target === 'hparams.yaml' || target === 'training_args.json', `${parser}: statuses ${[...statuses.entries()]}`);
      return tally;
    }

    it('metrics.json (plain runs)', async () => {
      const dir = await runFolder('plain', {
        'model.onnx': MODEL_STUB,
        'metrics.json': await fsp.readFile(path.join(ZOO, 'sweep-a02/metrics.json')),
      });
      await fuzzRun('metrics.json', 40, n(800), dir, 'metrics.json', readPlainRun);
    });

    it('eval_results.json and trainer_state.json (HF Trainer runs, top level and checkpoints)', async () => {
      const ft08 = path.join(ZOO, 'runs/ft-08');
      const evalDir = await runFolder('hf-eval', {
        'model.onnx': MODEL_STUB,
        'eval_results.json': await fsp.readFile(path.join(ft08, 'eval_results.json')),
        'trainer_state.json': '{}',
      });
      await fuzzRun('eval_results.json', 41, n(500), evalDir, 'eval_results.json', readHfTrainerRun);
      const stateDir = await runFolder('hf-state', {
        'model.onnx': MODEL_STUB,
        'trainer_state.json': await fsp.readFile(path.join(ZOO, 'runs/ft-00/trainer_state.json')),
      });
      await fuzzRun('trainer_state.json', 42, n(500), stateDir, 'trainer_state.json', readHfTrainerRun);
      const state = JSON.parse(await fsp.readFile(path.join(ZOO, 'runs/ft-00/trainer_state.json'), 'utf8')) as { log_history: unknown[] };
      state.log_history.push({ epoch: 1, step: 188, eval_accuracy: 0.856 });
      const ckptDir = await runFolder('hf-ckpt', {
        'trainer_state.json': JSON.stringify(state, null, 2),
        'checkpoint-188/model.onnx': MODEL_STUB,
        'checkpoint-94/model.onnx': MODEL_STUB,
      });
      await fuzzRun('trainer_state.json (checkpoints)', 43, n(400), ckptDir, 'trainer_state.json', readHfTrainerRun);
      const argsDir = await runFolder('hf-args', {
        'model.onnx': MODEL_STUB,
        'eval_results.json': await fsp.readFile(path.join(ft08, 'eval_results.json')),
        'training_args.json': await fsp.readFile(path.join(ft08, 'training_args.json')),
      });
      await fuzzRun('training_args.json', 44, n(300), argsDir, 'training_args.json', readHfTrainerRun);
    });

    it('metrics.csv and hparams.yaml (Lightning runs)', async () => {
      const v0 = path.join(ZOO, 'lightning_logs/version_0');
      const dir = await runFolder('lightning', {
        'model.onnx': MODEL_STUB,
        'metrics.csv': await fsp.readFile(path.join(v0, 'metrics.csv')),
        'hparams.yaml': await fsp.readFile(path.join(v0, 'hparams.yaml')),
      });
      await fuzzRun('metrics.csv', 50, n(800), dir, 'metrics.csv', readLightningRun);
      await fsp.copyFile(path.join(v0, 'metrics.csv'), path.join(dir, 'metrics.csv'));
      await fuzzRun('hparams.yaml', 51, n(600), dir, 'hparams.yaml', readLightningRun);
    });

    it('modelsoups.json', async () => {
      const dir = path.join(tmp, 'ws');
      await fsp.mkdir(dir, { recursive: true });
      const file = path.join(dir, 'modelsoups.json');
      const valid = await fsp.readFile(path.join(ZOO, 'modelsoups.json'));
      // Also exercise the optional keys.
      const full = JSON.parse(valid.toString('utf8')) as Record<string, unknown>;
      Object.assign(full, { include: ['runs/**'], exclude: ['old/**'], model: { input: 'x', output: 'y' }, scale: 0.5, greedy: { comparison: '>' }, output: '.soups', metric: 'val_acc', batchSize: 100, threads: 2 });
      for (const [k, text] of [Buffer.from(valid), Buffer.from(JSON.stringify(full, null, 2))].entries()) {
        const tally = await fuzz(`modelsoups.json ${k === 0 ? '(example)' : '(all keys)'}`, 60 + k, n(600), text, (b, r) => mutateText(b.toString('utf8'), r), async (t, i, m) => {
          await fsp.writeFile(file, m.bytes);
          await t.run(i, m.description, file, async () => loadConfig(dir));
        });
        assert.ok(tally.ok > 0 && (tally.errors.get('CONFIG_INVALID') ?? 0) > 0, tally.summary());
      }
    });
  });
});
