import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SoupError } from '../../src/engine/errors';
import type { BuildGraph } from '../synthetic/onnxBuild';
import { mlpGraph, writeOnnxModel } from '../synthetic/onnxBuild';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { OnnxDataType } from '../../src/engine/formats/onnxSchema';
import { createKernel, SIMD_WASM } from '../../src/engine/soups/simdKernel';
import { StreamingMean, stopIdleWorker } from '../../src/engine/soups/streamingMean';
import { allocWeightSet, arenaOf } from '../../src/engine/soups/weightArena';
import type { WeightArray, WeightSet } from '../../src/engine/soups/weights';
import { allocWeight, WeightSum } from '../../src/engine/soups/weights';
import { xorshift } from '../../scripts/bench/zoo';
import { inMemoryMean, writeMembers } from './helpers/members';

/** Small chunks, so that the test tensors are smaller than, equal to and larger than one chunk. */
const CHUNK = 256;

/**
 * Tensors of 3 (less than a chunk, not a multiple of 4), 256 (exactly one chunk), 1200 (several
 * chunks and a partial one) and 12 000 elements, plus float64 tensors of 6 and 300 elements (a
 * float64 chunk holds CHUNK / 2 elements).
 */
function testGraph(): BuildGraph {
  const g = mlpGraph([40, 30, 8, 3]); // fc1.weight 1200, fc1.bias 30, fc2.weight 240, fc2.bias 8, ...
  g.initializers.push({ name: 'one_chunk', dims: [CHUNK], dataType: OnnxDataType.FLOAT });
  g.initializers.push({ name: 'big', dims: [100, 120], dataType: OnnxDataType.FLOAT });
  g.initializers.push({ name: 'scale', dims: [3, 2], dataType: OnnxDataType.DOUBLE });
  g.initializers.push({ name: 'table', dims: [300], dataType: OnnxDataType.DOUBLE });
  return g;
}

/** Member k's weights: values of widely different magnitudes (rounding order matters), some -0. */
function memberWeights(g: BuildGraph, k: number): WeightSet {
  const rng = xorshift(2000 + k);
  return g.initializers.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const arr: WeightArray = t.dataType === OnnxDataType.DOUBLE ? new Float64Array(n) : new Float32Array(n);
    for (let j = 0; j < n; j++) arr[j] = j % 97 === 5 ? -0 : (rng() - 0.5) * 10 ** Math.floor(rng() * 8 - 4);
    return arr;
  });
}

/** Bit-for-bit equality of two weight sets (distinguishes -0 from +0 and NaN payloads). */
function assertSameBits(actual: WeightSet, expected: WeightSet, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.equal(a.constructor, e.constructor, `${what}: tensor ${i} type`);
    assert.equal(a.length, e.length, `${what}: tensor ${i} length`);
    assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(e.buffer, e.byteOffset, e.byteLength)), `${what}: tensor ${i} differs`);
  });
}

describe('streaming uniform mean (StreamingMean)', () => {
  let tmp: string;
  const g = testGraph();
  const members = [0, 1, 2, 3, 4, 5, 6].map((k) => memberWeights(g, k));
  let models: OnnxModelInfo[];

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-streaming-'));
    models = await writeMembers(tmp, g, members);
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  for (const kernel of ['simd', 'js'] as const) {
    for (const chunkElems of [CHUNK, 1 << 16]) {
      it(`equals the float64 mean computed in memory, bit for bit (${kernel} kernel, chunks of ${chunkElems})`, async () => {
        assert.equal(models[0].weights[0].data.kind, 'inline');
        assert.equal(models[1].weights[0].data.kind, 'external');
        for (const k of [1, 2, 3, 7]) {
          const mean = await new StreamingMean({ kernel, chunkElems }).mean(models.slice(0, k));
          assertSameBits(mean, inMemoryMean(members.slice(0, k)), `K=${k}`);
        }
      });
    }
  }

  it('equals WeightSum (add every member, then meanWith) bit for bit', async () => {
    const sum = new WeightSum(models[0]);
    for (const m of models) await sum.add(m);
    assertSameBits(await new StreamingMean({ chunkElems: CHUNK }).mean(models), await sum.meanWith(undefined), 'WeightSum');
  });

  it('turns -0 into +0 as a float64 sum starting from 0 does', async () => {
    const j = 5; // -0 in every member
    const mean = await new StreamingMean({ chunkElems: CHUNK }).mean(models.slice(0, 1));
    assert.ok(Object.is(members[0][0][j], -0));
    assert.ok(Object.is(mean[0][j], 0));
  });

  it('writes into a given set and reports each tensor once, in order', async () => {
    const out = models[0].weights.map(allocWeight);
    const seen: number[] = [];
    const mean = await new StreamingMean({ chunkElems: CHUNK }).mean(models, { out, onTensor: (done, total) => seen.push(done / total) });
    assert.equal(mean, out);
    assert.deepEqual(seen, models[0].weights.map((_, i) => (i + 1) / models[0].weights.length));
    assertSameBits(out, inMemoryMean(members), 'into out');
  });

  it('refuses zero models, a cancelled signal and members of another layout', async () => {
    await assert.rejects(new StreamingMean().mean([]), (err: unknown) => err instanceof SoupError && err.code === 'NO_INGREDIENTS');
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(new StreamingMean().mean(models, { signal: ac.signal }), (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED');
    const other = path.join(tmp, 'other.onnx');
    const og = mlpGraph([40, 31, 8, 3]);
    await writeOnnxModel(other, og, (i) => new Float32Array(og.initializers[i].dims.reduce((a, b) => a * b, 1)));
    await assert.rejects(new StreamingMean().mean([models[0], await readOnnxModel(other)]), (err: unknown) => err instanceof SoupError && err.code === 'INCOMPATIBLE');
  });
});

describe('streaming uniform mean on two threads (StreamingMean, main thread + worker)', () => {
  let tmp: string;
  // 2.6 M float32 (10.4 MB: over the 8 MB from which a worker is used), plus float64 and small tensors.
  const g = testGraph();
  g.initializers.push({ name: 'large', dims: [1300, 2000], dataType: OnnxDataType.FLOAT });
  g.initializers.push({ name: 'large64', dims: [70001], dataType: OnnxDataType.DOUBLE });
  // Member counts 1, 2, 4 (the SIMD float32 mean multiplies by 1/K) and 3, 5 (it divides).
  const members = [0, 1, 2, 3, 4].map((k) => memberWeights(g, k));
  let models: OnnxModelInfo[];

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-streaming2-'));
    models = await writeMembers(tmp, g, members);
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('uses the worker for a large model and equals one thread and the in-memory mean, bit for bit', async () => {
    for (const kernel of ['simd', 'js'] as const) {
      for (const k of [1, 2, 3, 4, 5]) {
        const two = new StreamingMean({ kernel });
        const seen: number[] = [];
        const mean2 = await two.mean(models.slice(0, k), { onTensor: (done) => seen.push(done) });
        assert.equal(two.lastThreads, 2, `${kernel} K=${k}: threads`);
        assert.deepEqual(seen, g.initializers.map((_, i) => i + 1));
        const one = new StreamingMean({ kernel, threads: 1 });
        const mean1 = await one.mean(models.slice(0, k));
        assert.equal(one.lastThreads, 1);
        assertSameBits(mean2, mean1, `${kernel} K=${k}: 2 threads vs 1`);
        assertSameBits(mean2, inMemoryMean(members.slice(0, k)), `${kernel} K=${k}: 2 threads vs in memory`);
      }
    }
  });

  it('writes the mean in place into a weight arena (allocWeightSet), on one and two threads, bit for bit', async () => {
    const arena = allocWeightSet(models[0]);
    assert.ok(arenaOf(arena), 'the set lives in one kernel memory');
    assert.equal(arenaOf(models[0].weights.map(allocWeight)), undefined);
    // The arena's memory is only ever written through the kernel: fill it with garbage first.
    for (const t of arena) t.fill(Number.NaN);
    for (const threads of [1, 2] as const) {
      for (const k of [1, 2, 3, 4, 5]) {
        const sm = new StreamingMean({ threads });
        const mean = await sm.mean(models.slice(0, k), { out: arena });
        assert.equal(mean, arena);
        assert.equal(sm.lastInPlace, true, `threads=${threads} K=${k}: in place`);
        assert.equal(sm.lastThreads, threads);
        // Tensors of 3 and 30 elements end in a short chunk (not a multiple of 4): they must not spill into the next one.
        assertSameBits(mean, inMemoryMean(members.slice(0, k)), `threads=${threads} K=${k}: in place vs in memory`);
      }
    }
    // Another chunk size or the JS kernel cannot use the arena's kernel: the chunks are copied in, with the same bits.
    for (const sm of [new StreamingMean({ kernel: 'js' }), new StreamingMean({ chunkElems: CHUNK })]) {
      for (const t of arena) t.fill(Number.NaN);
      await sm.mean(models.slice(0, 3), { out: arena });
      assert.equal(sm.lastInPlace, false);
      assertSameBits(arena, inMemoryMean(members.slice(0, 3)), 'copied into the arena');
    }
    // Without `out`, the mean is allocated in an arena.
    const sm = new StreamingMean();
    assert.ok(arenaOf(await sm.mean(models.slice(0, 2))));
    assert.equal(sm.lastInPlace, true);
  });

  it('writes into a given set on two threads, with small chunks (many shared out)', async () => {
    const out = models[0].weights.map(allocWeight);
    const sm = new StreamingMean({ chunkElems: CHUNK * 16 });
    const mean = await sm.mean(models, { out });
    assert.equal(mean, out);
    assert.equal(sm.lastThreads, 2);
    assertSameBits(out, inMemoryMean(members), 'into out');
  });

  it('falls back to one thread: threads: 1, a small model, worker threads unavailable', async () => {
    const small = new StreamingMean({ parallelMinBytes: 1e12 });
    assertSameBits(await small.mean(models.slice(0, 3)), inMemoryMean(members.slice(0, 3)), 'small');
    assert.equal(small.lastThreads, 1);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wt = require('node:worker_threads') as { Worker: unknown };
    await stopIdleWorker();
    const real = wt.Worker;
    wt.Worker = class {
      constructor() {
        throw new Error('no threads here');
      }
    };
    try {
      const sm = new StreamingMean();
      assertSameBits(await sm.mean(models.slice(0, 3)), inMemoryMean(members.slice(0, 3)), 'no worker');
      assert.equal(sm.lastThreads, 1);
    } finally {
      wt.Worker = real;
    }
  });

  it('stops mid-mean on abort (CANCELLED), then averages again', async () => {
    const ac = new AbortController();
    const sm = new StreamingMean({ chunkElems: CHUNK * 4 });
    let tensors = 0;
    await assert.rejects(
      sm.mean(models, { signal: ac.signal, onTensor: (done) => (tensors = done) === 1 && ac.abort() }),
      (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED',
    );
    assert.equal(sm.lastThreads, 2);
    assert.ok(tensors < g.initializers.length, `stopped after ${tensors} tensors`);
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 1);
    await assert.rejects(sm.mean(models, { signal: ac2.signal }), (err: unknown) => err instanceof SoupError && err.code === 'CANCELLED');
    assertSameBits(await sm.mean(models), inMemoryMean(members), 'after cancelling');
  });

  it('reports a file that shrank mid-cook as INGREDIENT_CHANGED with its path', async () => {
    const dir = path.join(tmp, 'shrunk');
    await fsp.mkdir(dir);
    const file = path.join(dir, 'model.onnx');
    await writeOnnxModel(file, g, (i) => members[3][i]);
    const model = await readOnnxModel(file);
    const large = model.weights.findIndex((w) => w.name === 'large');
    await fsp.truncate(file, model.weights[large].data.offset + 1000);
    const sm = new StreamingMean();
    await assert.rejects(sm.mean([models[0], model, models[2]]), (err: unknown) => err instanceof SoupError && err.code === 'INGREDIENT_CHANGED' && err.file === file);
    assert.equal(sm.lastThreads, 2);
    // And when the worker finds it: the main thread is held up in onTensor after its first
    // chunk (one whole small tensor) while the worker takes the next ones, up to 'big'.
    await writeOnnxModel(file, g, (i) => members[3][i]);
    const again = await readOnnxModel(file);
    const big = again.weights.findIndex((w) => w.name === 'big');
    await fsp.truncate(file, again.weights[big].data.offset + 1000);
    const stall = () => {
      const until = Date.now() + 300;
      while (Date.now() < until);
    };
    await assert.rejects(
      new StreamingMean({ chunkElems: 1 << 20 }).mean([models[0], again], { onTensor: (done) => done === 1 && stall() }),
      (err: unknown) => err instanceof SoupError && err.code === 'INGREDIENT_CHANGED' && err.file === file,
    );
  });
});

describe('chunk kernels (WebAssembly SIMD and JS)', () => {
  it('validates as WebAssembly and runs as SIMD on this Node', () => {
    assert.ok(WebAssembly.validate(SIMD_WASM));
    assert.equal(createKernel(1 << 16).simd, true);
    assert.equal(createKernel(1 << 16, 'js').simd, false);
  });

  it('pairs the first two float32 members in one pass exactly as adding them one by one', () => {
    const E = 1024;
    for (const prefer of ['simd', 'js'] as const) {
      const kern = createKernel(E * 32, prefer);
      const f32 = new Float32Array(kern.memory);
      const f64 = new Float64Array(kern.memory);
      // x at 8E bytes, y at 12E, pair sum at 0, one-by-one sum at 16E, means at 24E and 28E.
      for (const [n, k] of [[1, 2], [3, 2], [4, 2], [255, 2], [1024, 2], [5, 3], [1024, 4], [7, 5]]) {
        const local = xorshift(n * 17 + k);
        for (let j = 0; j < n; j++) {
          // Both -0 at j % 9 === 0 (the sum from 0 is +0, a plain x + y would be -0); magnitudes apart, so the order of rounding shows.
          f32[2 * E + j] = j % 9 === 0 ? -0 : (local() - 0.5) * 10 ** Math.floor(local() * 12 - 6);
          f32[3 * E + j] = j % 9 === 0 ? -0 : (local() - 0.5) * 10 ** Math.floor(local() * 12 - 6);
        }
        f64.fill(Number.NaN, 0, 4 * E);
        kern.pairF32(0, 8 * E, 12 * E, n);
        kern.firstF32(16 * E, 8 * E, n);
        kern.addF32(16 * E, 12 * E, n);
        const pair = f64.slice(0, n);
        assert.ok(Buffer.from(pair.buffer).equals(Buffer.from(f64.slice(2 * E, 2 * E + n).buffer)), `${prefer} pairF32 n=${n}, k=${k}`);
        assert.ok(Object.is(pair[0], 0), `${prefer}: -0 + -0 paired from 0 is +0`);
        kern.pairToF32(24 * E, 8 * E, 12 * E, n, k);
        kern.divToF32(28 * E, 16 * E, n, k);
        const fused = f32.slice(6 * E, 6 * E + n);
        assert.ok(Buffer.from(fused.buffer).equals(Buffer.from(f32.slice(7 * E, 7 * E + n).buffer)), `${prefer} pairToF32 = firstF32 + addF32 + divToF32, n=${n}, k=${k}`);
        fused.forEach((v, j) => assert.ok(Object.is(v, Math.fround((0 + f32[2 * E + j] + f32[3 * E + j]) / k)), `${prefer} n=${n}, k=${k}, element ${j}`));
      }
    }
  });

  it('gives identical sums and means, bit for bit, for float32 and float64 inputs of any length and any member count', () => {
    const E = 1024;
    const kernels = [createKernel(E * 32, 'simd'), createKernel(E * 32, 'js')];
    // k = 4 and 8 multiply by 1/k in the SIMD kernel, 3 and 5 divide; -0 members must sum to +0.
    for (const [n, k] of [[1, 1], [3, 2], [4, 3], [5, 4], [255, 5], [1024, 8], [1024, 3]]) {
      const results = kernels.map((kern) => {
        const f32 = new Float32Array(kern.memory);
        const f64 = new Float64Array(kern.memory);
        // acc at 0, x at 8E, out at 16E bytes; acc starts as garbage (first* must not read it)
        f64.fill(Number.NaN, 0, E);
        const local = xorshift(n * 31 + k);
        const member32 = () => {
          for (let j = 0; j < n; j++) f32[2 * E + j] = j % 7 === 0 ? -0 : (local() - 0.5) * 10 ** Math.floor(local() * 12 - 6);
        };
        let last32: Float32Array = new Float32Array();
        for (let m = 0; m < k; m++) {
          member32();
          if (m === 0) kern.firstF32(0, 8 * E, n);
          else if (m < k - 1) kern.addF32(0, 8 * E, n);
          if (m === k - 1 && k > 1) {
            // The fused last member and the mean, against adding it and dividing.
            kern.lastF32(24 * E, 0, 8 * E, n, k);
            last32 = f32.slice(6 * E, 6 * E + n);
            kern.addF32(0, 8 * E, n);
          }
        }
        kern.divToF32(16 * E, 0, n, k);
        const sum32 = f64.slice(0, n);
        const mean32 = f32.slice(4 * E, 4 * E + n);
        if (k > 1) assert.ok(Buffer.from(last32.buffer).equals(Buffer.from(mean32.buffer)), `lastF32 = addF32 + divToF32, n=${n}, k=${k}`);
        for (let m = 0; m < k; m++) {
          for (let j = 0; j < n; j++) f64[E + j] = j % 5 === 0 ? -0 : (local() - 0.5) * 10 ** Math.floor(local() * 30 - 15);
          if (m === 0) kern.firstF64(0, 8 * E, n);
          else kern.addF64(0, 8 * E, n);
        }
        kern.divToF64(16 * E, 0, n, k);
        return [sum32, mean32, f64.slice(0, n), f64.slice(2 * E, 2 * E + n)];
      });
      results[0].forEach((a, i) => assert.ok(Buffer.from(a.buffer).equals(Buffer.from(results[1][i].buffer)), `n=${n}, k=${k}, result ${i}`));
      // The sum of -0 members is +0, as a sum from 0 gives.
      assert.ok(Object.is(results[0][0][0], 0) && Object.is(results[0][2][0], 0), `n=${n}, k=${k}: sums of -0 are +0`);
      // The JS kernel is the plain definition: the means are the float64 sums divided by k.
      results[1][1].forEach((v, j) => assert.ok(Object.is(v, Math.fround(results[1][0][j] / k)), `n=${n}, k=${k}, element ${j}`));
    }
  });
});
