/**
 * The read + add + divide loop of {@link StreamingMean} over a share of the chunks, written so
 * that it runs both on the main thread and in a `worker_threads` Worker started from a code
 * string (`eval: true`): {@link processChunks} and {@link makeKernel} reference nothing outside
 * their own bodies (no imports, no module constants, no helpers), so `fn.toString()` is a
 * complete program whether it comes from tsc, esbuild or a minifier. The worker needs no
 * separate bundle entry.
 *
 * Chunks are shared out dynamically: each thread takes the next chunk index with an atomic add
 * on a shared counter, so every chunk (and so every element) is read, summed in member order and
 * divided by exactly one thread: the result does not depend on how the chunks were split.
 */

/** Slots of the shared control array (Int32Array over {@link ShareJob.ctl}). */
export const CTL = { next: 0, head: 1, tail: 2, abort: 3, meta: 8 } as const;

/**
 * Where a chunk kernel keeps its buffers, as byte addresses in its memory, for `E` elements per
 * chunk: the float64 chunk sum, the output chunk (float32 or float64), a float32 chunk's first
 * member (summed with the second in one pass), the read slot; `bytes` in all. The worker's ring
 * follows at `bytes`. The one definition: the worker gets it in {@link ShareJob.layout}.
 */
export interface ChunkLayout {
  sum: number;
  out: number;
  first: number;
  read: number;
  bytes: number;
}

/** The {@link ChunkLayout} for `chunkElems` elements per chunk. */
export function chunkLayout(chunkElems: number): ChunkLayout {
  const E = chunkElems;
  return { sum: 0, out: E * 8, first: E * 12, read: E * 16, bytes: E * 20 };
}

/** Everything a thread needs for its share; structured-clonable (it is the worker's workerData). */
export interface ShareJob {
  /** Number of members (K). */
  k: number;
  /** Number of tensors (T). */
  tensors: number;
  /** Elements per float32 chunk (float64 chunks hold half). */
  chunkElems: number;
  /** Where the kernel's chunk buffers are ({@link chunkLayout} of `chunkElems`). */
  layout: ChunkLayout;
  /** Per chunk: weight index, first element, element count, bytes per element. */
  chunks: Float64Array;
  /** File descriptor of member m's tensor w at [m * T + w] (pread is safe from any thread). */
  fds: Int32Array;
  /** Byte offset of member m's tensor w in its file, at [m * T + w]. */
  offsets: Float64Array;
  /** Path of member m's tensor w's file, at [m * T + w] (for errors). */
  files: string[];
  /** Tensor names (for errors). */
  names: string[];
  /** Int32 control: next chunk, ring head (worker), ring tail (main), abort flag, then the ring's chunk indices. */
  ctl: SharedArrayBuffer;
  /**
   * The worker's kernel memory, shared (a shared WebAssembly memory for the SIMD kernel, else a
   * SharedArrayBuffer): its chunk buffers, then at `layout.bytes` the ring of `ringSlots` slots
   * of chunkElems * 4 bytes into which the worker writes its chunk means and from which the main
   * thread copies them (worker -> main, no copy in between).
   */
  memory: WebAssembly.Memory | SharedArrayBuffer;
  /** Identifies `memory` across jobs: the worker keeps its kernel over the same memory. */
  memoryId: number;
  ringSlots: number;
  /** The compiled SIMD kernel (the shared-memory variant for the worker), or null for the JS loops. */
  module: WebAssembly.Module | null;
}

/** A chunk kernel (see simdKernel.ts, whose ChunkKernel documents each operation): addresses are byte offsets into `memory`. */
export interface ShareKernel {
  readonly memory: ArrayBuffer | SharedArrayBuffer;
  firstF32(acc: number, x: number, n: number): void;
  firstF64(acc: number, x: number, n: number): void;
  addF32(acc: number, x: number, n: number): void;
  addF64(acc: number, x: number, n: number): void;
  lastF32(out: number, acc: number, x: number, n: number, k: number): void;
  pairF32(acc: number, x: number, y: number, n: number): void;
  pairToF32(out: number, x: number, y: number, n: number, k: number): void;
  divToF32(out: number, acc: number, n: number, k: number): void;
  divToF64(out: number, acc: number, n: number, k: number): void;
}

export type ReadSync = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => number;

/**
 * Takes chunks until none is left (returns true), the abort flag is set (true) or `budgetMs` has
 * passed (false). The kernel's buffers are where `job.layout` says: each chunk's float64 sum,
 * the member's bytes in the read slot (a float32 chunk's first member in its own slot, to be
 * summed with the second in one pass); the chunk's mean is written where `place(chunk)` says (a
 * byte address in the kernel memory; -1: stop, aborted), then handed to `emit`. A file that ends early throws an
 * Error with `soupCode` 'INGREDIENT_CHANGED', `problem` and `file`.
 * Self-contained: see the file comment.
 */
export function processChunks(
  job: ShareJob,
  kern: ShareKernel,
  readSync: ReadSync,
  budgetMs: number,
  place: (chunk: number) => number,
  emit: (chunk: number, weight: number, start: number, count: number, f64: boolean) => void,
): boolean {
  const ctl = new Int32Array(job.ctl);
  const E = job.chunkElems;
  const K = job.k;
  const T = job.tensors;
  const chunks = job.chunks;
  const total = chunks.length / 4;
  const sumAt = job.layout.sum;
  const slotAt = job.layout.read;
  // Float32 chunks of 2+ members read the first member here and pair it with the second.
  const firstAt = job.layout.first;
  let outAt = 0;
  const slot = new Uint8Array(kern.memory, slotAt, E * 4);
  const firstSlot = new Uint8Array(kern.memory, firstAt, E * 4);
  const started = performance.now();
  for (;;) {
    if (Atomics.load(ctl, 3) !== 0) return true;
    const c = Atomics.add(ctl, 0, 1);
    if (c >= total) return true;
    const w = chunks[4 * c];
    const start = chunks[4 * c + 1];
    const count = chunks[4 * c + 2];
    const eb = chunks[4 * c + 3];
    const bytes = count * eb;
    const paired = eb === 4 && K > 1;
    for (let m = 0; m < K; m++) {
      const i = m * T + w;
      const fd = job.fds[i];
      const pos = job.offsets[i] + start * eb;
      const into = paired && m === 0 ? firstSlot : slot;
      for (let done = 0; done < bytes; ) {
        const n = readSync(fd, into, done, bytes - done, pos + done);
        if (n === 0) {
          const problem = `file ended while reading weight "${job.names[w]}" (changed during the cook?)`;
          throw Object.assign(new Error(`${job.files[i]}: ${problem}`), { soupCode: 'INGREDIENT_CHANGED', problem, file: job.files[i] });
        }
        done += n;
      }
      // The first member starts the sum (no clearing pass), the last one ends it with the mean.
      if (m === K - 1 && (outAt = place(c)) < 0) return true;
      if (eb === 8) {
        if (m === 0) kern.firstF64(sumAt, slotAt, count);
        else kern.addF64(sumAt, slotAt, count);
        if (m === K - 1) kern.divToF64(outAt, sumAt, count, K);
      } else if (!paired) {
        kern.firstF32(sumAt, slotAt, count);
        kern.divToF32(outAt, sumAt, count, K);
      } else if (m === 1) {
        // The first member waited in its slot: the first two in one pass; with two members, that
        // pass is the mean (no float64 sum stored).
        if (K === 2) kern.pairToF32(outAt, firstAt, slotAt, count, K);
        else kern.pairF32(sumAt, firstAt, slotAt, count);
      } else if (m > 1) {
        if (m < K - 1) kern.addF32(sumAt, slotAt, count);
        else kern.lastF32(outAt, sumAt, slotAt, count, K);
      }
    }
    emit(c, w, start, count, eb === 8);
    if (performance.now() - started > budgetMs) return false;
  }
}

/**
 * A kernel over a fresh memory of `memory` bytes, or over the given shared memory (a shared
 * WebAssembly memory for the SIMD module's shared variant, a SharedArrayBuffer for JS): the SIMD
 * module when given, else JS loops giving the same IEEE results (as simdKernel.ts).
 * Self-contained: see the file comment.
 */
export function makeKernel(module: WebAssembly.Module | null, memoryOrBytes: number | WebAssembly.Memory | SharedArrayBuffer): ShareKernel {
  const up = (n: number) => Math.ceil(n / 4) * 4;
  if (module) {
    const memory = typeof memoryOrBytes === 'number' ? new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(memoryOrBytes / 65536)) }) : (memoryOrBytes as WebAssembly.Memory);
    const e = new WebAssembly.Instance(module, { e: { m: memory } }).exports as Record<string, (...a: number[]) => void>;
    // x * 2^-j is x / 2^j exactly: a power-of-two k multiplies (see simdKernel.ts).
    const pow2 = (k: number) => Number.isInteger(Math.log2(k));
    return {
      memory: memory.buffer,
      firstF32: (acc, x, n) => e.firstF32(acc, x, up(n)),
      firstF64: (acc, x, n) => e.firstF64(acc, x, up(n)),
      addF32: (acc, x, n) => e.addF32(acc, x, up(n)),
      addF64: (acc, x, n) => e.addF64(acc, x, up(n)),
      lastF32: (out, acc, x, n, k) => (pow2(k) ? e.lastMulToF32(out, acc, x, up(n), 1 / k) : e.lastDivToF32(out, acc, x, up(n), k)),
      pairF32: (acc, x, y, n) => e.pairF32(acc, x, y, up(n)),
      pairToF32: (out, x, y, n, k) => (pow2(k) ? e.pairMulToF32(out, x, y, up(n), 1 / k) : e.pairDivToF32(out, x, y, up(n), k)),
      divToF32: (out, acc, n, k) => (pow2(k) ? e.scaleToF32(out, acc, up(n), 1 / k) : e.divToF32(out, acc, up(n), k)),
      divToF64: (out, acc, n, k) => e.divToF64(out, acc, up(n), k),
    };
  }
  const memory = typeof memoryOrBytes === 'number' ? new ArrayBuffer(memoryOrBytes) : (memoryOrBytes as SharedArrayBuffer);
  const f32 = new Float32Array(memory);
  const f64 = new Float64Array(memory, 0, memory.byteLength >> 3);
  return {
    memory,
    firstF32(acc, x, n) {
      const a = acc >> 3;
      const b = x >> 2;
      for (let j = 0; j < n; j++) f64[a + j] = 0 + f32[b + j];
    },
    firstF64(acc, x, n) {
      const a = acc >> 3;
      const b = x >> 3;
      for (let j = 0; j < n; j++) f64[a + j] = 0 + f64[b + j];
    },
    addF32(acc, x, n) {
      const a = acc >> 3;
      const b = x >> 2;
      for (let j = 0; j < n; j++) f64[a + j] += f32[b + j];
    },
    addF64(acc, x, n) {
      const a = acc >> 3;
      const b = x >> 3;
      for (let j = 0; j < n; j++) f64[a + j] += f64[b + j];
    },
    lastF32(out, acc, x, n, k) {
      const o = out >> 2;
      const a = acc >> 3;
      const b = x >> 2;
      for (let j = 0; j < n; j++) f32[o + j] = (f64[a + j] + f32[b + j]) / k;
    },
    pairF32(acc, x, y, n) {
      const a = acc >> 3;
      const b = x >> 2;
      const c = y >> 2;
      for (let j = 0; j < n; j++) f64[a + j] = 0 + f32[b + j] + f32[c + j];
    },
    pairToF32(out, x, y, n, k) {
      const o = out >> 2;
      const b = x >> 2;
      const c = y >> 2;
      for (let j = 0; j < n; j++) f32[o + j] = (0 + f32[b + j] + f32[c + j]) / k;
    },
    divToF32(out, acc, n, k) {
      const o = out >> 2;
      const a = acc >> 3;
      for (let j = 0; j < n; j++) f32[o + j] = f64[a + j] / k;
    },
    divToF64(out, acc, n, k) {
      const o = out >> 3;
      const a = acc >> 3;
      for (let j = 0; j < n; j++) f64[o + j] = f64[a + j] / k;
    },
  };
}

/**
 * The worker's main: takes chunks until none is left, writing each mean into the next free ring
 * slot (waiting for one) and publishing it to the main thread, then posts `{ done: true }`; on failure posts
 * `{ error: { code, problem, file } }`. Self-contained: `processChunks` and `makeKernel` come
 * in as arguments (module-level names may be renamed by a minifier).
 */
function workerMain(job: ShareJob, run: typeof processChunks, kernelOf: typeof makeKernel): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readSync } = require('node:fs') as typeof import('node:fs');
  const E = job.chunkElems;
  const R = job.ringSlots;
  const ctl = new Int32Array(job.ctl);
  try {
    // Each job brings a new handle on the memory; the kernel over it is kept while its id holds.
    const kept = globalThis as { soupKernel?: { id: number; kern: ShareKernel } };
    if (kept.soupKernel?.id !== job.memoryId) kept.soupKernel = { id: job.memoryId, kern: kernelOf(job.module, job.memory) };
    const kern = kept.soupKernel.kern;
    const ringAt = job.layout.bytes;
    // The next ring slot, once the main thread has copied what was in it.
    const place = () => {
      const head = ctl[1];
      for (;;) {
        const tail = Atomics.load(ctl, 2);
        if (head - tail < R) return ringAt + (head % R) * E * 4;
        if (Atomics.load(ctl, 3) !== 0) return -1;
        Atomics.wait(ctl, 2, tail, 100);
      }
    };
    const emit = (c: number) => {
      const head = ctl[1];
      ctl[8 + (head % R)] = c;
      Atomics.store(ctl, 1, head + 1);
      Atomics.notify(ctl, 1);
    };
    while (!run(job, kern, readSync, 1e9, place, emit));
    parentPort?.postMessage({ done: true });
  } catch (e) {
    const err = e as { soupCode?: string; problem?: string; file?: string; message?: string };
    parentPort?.postMessage({ error: { code: err.soupCode, problem: err.problem ?? String(err.message ?? e), file: err.file } });
  }
}

/**
 * The worker's program: an expression whose value is `(job) => void`, for the bootstrap of
 * {@link WORKER_BOOTSTRAP} to evaluate (built from the functions above, so it is whatever code
 * the bundler or compiler produced for them).
 */
export function workerSource(): string {
  source ??= `((job) => (${workerMain.toString()})(job,\n(${processChunks.toString()}),\n(${makeKernel.toString()})))`;
  return source;
}

let source: string | undefined;

/**
 * A worker started with this (`eval: true`) runs each message it gets: a {@link ShareJob} plus
 * `source` ({@link workerSource}), which it evaluates once (direct eval: `require` stays in scope).
 */
export const WORKER_BOOTSTRAP = `'use strict';
let run, source;
require('node:worker_threads').parentPort.on('message', (job) => {
  if (job.source !== source) { run = eval(job.source); source = job.source; }
  run(job);
});
`;
