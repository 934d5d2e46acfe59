import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SoupErrorCode } from '../errors';
import { SoupError } from '../errors';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { OnnxDataType } from '../formats/onnxSchema';
import type { ChunkKernel } from './simdKernel';
import type { ShareJob } from './meanWorker';
import { chunkLayout, CTL, processChunks, WORKER_BOOTSTRAP, workerSource } from './meanWorker';
import { createKernel, KERNEL_LANES, simdModule } from './simdKernel';
import type { WeightArena } from './weightArena';
import { allocWeightSet, arenaOf } from './weightArena';
import type { WeightSet } from './weights';
import { CHUNK_ELEMS, checkSameLayout, chunkSpans } from './weights';

/** How a {@link StreamingMean} works; the defaults are what the engine uses. */
export interface StreamingMeanConfig {
  /** Elements per chunk (float32; float64 tensors use half): a multiple of 4. Default 65 536 (256 KB). */
  chunkElems?: number;
  /** 'simd' (WebAssembly, the default, JS where unavailable) or 'js'. */
  kernel?: 'simd' | 'js';
  /**
   * 2 (the default where the machine has 2 cores or more): the main thread and one worker thread
   * share the chunks; 1: the main thread alone. Models smaller than `parallelMinBytes` are
   * always averaged on the main thread (starting a thread costs more).
   */
  threads?: 1 | 2;
  /** Weight bytes of one model from which a second thread is used. Default 8 MB. */
  parallelMinBytes?: number;
}

/** How long the main thread works before letting the event loop in (cancellation, IPC), ms. */
const YIELD_MS = 10;
/** Output chunks the worker may have finished ahead of the main thread copying them (256 KB each). */
const RING_SLOTS = 8;

/** Options of one {@link StreamingMean.mean} call. */
export interface MeanOptions {
  signal?: AbortSignal;
  /** Called after each tensor is complete. */
  onTensor?: (done: number, total: number) => void;
  /**
   * Where to write the mean (a set of the models' layout, e.g. one no longer needed); allocated
   * when absent. A set from {@link allocWeightSet} is written in place by this thread's kernel.
   */
  out?: WeightSet;
}

/**
 * The uniform mean of K models computed chunk by chunk: for each tensor, for each chunk of
 * 64 k elements, the chunk of every member is read (pread) into one 256 KB buffer and added
 * into a float64 chunk sum (WebAssembly SIMD); both stay in the core's cache, so DRAM sees each
 * weight once. The sum is then divided by K into the output tensor. Memory: the output (one
 * model) plus about 1.3 MB, whatever K.
 *
 * The result is the float64 sum in member order (starting from 0), divided once and rounded to
 * the tensor's type: bit for bit what {@link WeightSum} computes.
 */
export class StreamingMean {
  readonly chunkElems: number;
  readonly kernel: 'simd' | 'js';
  readonly threads: 1 | 2;
  readonly parallelMinBytes: number;
  /** Threads the last {@link mean} call used (1 or 2). */
  lastThreads = 0;
  /** True when the last {@link mean} call wrote this thread's chunks in place (an arena's set, see weightArena.ts). */
  lastInPlace = false;

  constructor(config: StreamingMeanConfig = {}) {
    this.chunkElems = config.chunkElems ?? CHUNK_ELEMS;
    this.kernel = config.kernel ?? 'simd';
    this.threads = config.threads ?? (availableParallelism() > 1 ? 2 : 1);
    this.parallelMinBytes = config.parallelMinBytes ?? 8 * 1024 * 1024;
    if (this.chunkElems <= 0 || this.chunkElems % KERNEL_LANES) throw new RangeError(`chunkElems must be a positive multiple of ${KERNEL_LANES}`);
  }

  /** The mean of `models` (the first one's layout; every model must have the same). */
  async mean(models: OnnxModelInfo[], opts: MeanOptions = {}): Promise<WeightSet> {
    const { signal } = opts;
    if (models.length === 0) throw new SoupError('NO_INGREDIENTS', 'cannot average zero models');
    if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    const layout = models[0];
    for (const m of models) checkSameLayout(layout, m);
    const out = opts.out ?? allocWeightSet(layout, this.chunkElems);
    layout.weights.forEach((w, i) => {
      if (out[i]?.length !== w.numel || out[i] instanceof Float64Array !== (w.dataType === OnnxDataType.DOUBLE)) throw new RangeError(`out[${i}] does not fit weight "${w.name}"`);
    });

    // The arena's own kernel writes the mean in place; any other set gets its chunks copied in.
    const found = arenaOf(out);
    const arena = found && !found.busy && found.chunkElems === this.chunkElems && this.kernel === 'simd' ? found : undefined;
    const { bytes } = chunkLayout(this.chunkElems);
    const kernel = arena?.kernel ?? borrowKernel(bytes, this.kernel);
    if (arena) arena.busy = true;
    this.lastThreads = 1;
    this.lastInPlace = arena !== undefined;
    const modelBytes = layout.weights.reduce((a, w) => a + w.data.length, 0);
    const worker = this.threads === 2 && modelBytes >= this.parallelMinBytes ? startWorker() : null;
    if (worker) this.lastThreads = 2;
    try {
      return await this.meanShared(models, out, kernel, arena, worker, opts);
    } finally {
      if (arena) arena.busy = false;
      else returnKernel(kernel, bytes, this.kernel);
    }
  }

  /**
   * The chunks taken by this thread and, when given, shared with `worker` (see meanWorker.ts):
   * each thread takes the next chunk with an atomic counter, sums it in member order and divides
   * it; the worker hands its means back through a small shared ring that this thread copies into
   * `out`. Alone, this thread takes every chunk in order. With `arena` (whose kernel is `kernel`
   * and whose memory holds `out`), this thread writes its chunk means straight into `out`.
   */
  private async meanShared(models: OnnxModelInfo[], out: WeightSet, kernel: ChunkKernel, arena: WeightArena | undefined, worker: PendingWorker | null, opts: MeanOptions): Promise<WeightSet> {
    const { signal } = opts;
    const layout = models[0];
    const E = this.chunkElems;
    const K = models.length;
    const T = layout.weights.length;
    const spans: number[] = [];
    const left = layout.weights.map(() => 0);
    for (const [i, w] of layout.weights.entries()) {
      for (const span of chunkSpans(w, E)) {
        spans.push(i, span.start, span.count, span.elemBytes);
        left[i]++;
      }
    }
    const total = spans.length / 4;
    const ctl = new Int32Array(new SharedArrayBuffer(4 * (CTL.meta + RING_SLOTS)));
    // The worker's kernel memory: its chunk buffers, then the ring it writes its means into.
    const simd = this.kernel === 'simd' && kernel.simd && simdModule(true) !== null;
    const buffers = chunkLayout(E);
    const ringAt = buffers.bytes;
    const { memory: workerMemory, id: memoryId } = worker?.memory(ringAt + E * 4 * RING_SLOTS, simd) ?? { memory: new SharedArrayBuffer(0), id: 0 };
    const ring = workerMemory instanceof WebAssembly.Memory ? workerMemory.buffer : workerMemory;
    const opened = new Map<string, number>();
    let tensorsDone = 0;
    let chunksDone = 0;
    let ok = false;
    const finished = (w: number) => {
      chunksDone++;
      if (--left[w] === 0) opts.onTensor?.(++tensorsDone, T);
      // A property read: cheap enough for every chunk (an abort from onTensor stops at once).
      if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    };
    try {
      const fds = new Int32Array(K * T);
      const offsets = new Float64Array(K * T);
      const files: string[] = [];
      for (const [m, model] of models.entries()) {
        for (const [i, w] of model.weights.entries()) {
          const file = w.data.kind === 'inline' ? model.path : w.data.file;
          let fd = opened.get(file);
          if (fd === undefined) {
            fd = openFile(file);
            opened.set(file, fd);
          }
          fds[m * T + i] = fd;
          offsets[m * T + i] = w.data.offset;
          files[m * T + i] = file;
        }
      }
      const job: ShareJob = {
        k: K,
        tensors: T,
        chunkElems: E,
        layout: buffers,
        chunks: Float64Array.from(spans),
        fds,
        offsets,
        files,
        names: layout.weights.map((w) => w.name),
        ctl: ctl.buffer as SharedArrayBuffer,
        memory: workerMemory,
        memoryId,
        ringSlots: RING_SLOTS,
        module: simd ? simdModule(true) : null,
      };
      // Alone, nothing else takes chunks: no error, never "exited" before this thread is done.
      const state: { error?: SoupError; exited: boolean } = worker?.run(job) ?? { exited: false };
      const out32 = new Float32Array(kernel.memory, buffers.out, E);
      const out64 = new Float64Array(kernel.memory, buffers.out, E / 2);
      /** Copies the worker's finished chunks into `out`; returns the ring head it went up to. */
      const drain = (): number => {
        let tail = ctl[CTL.tail];
        const head = Atomics.load(ctl, CTL.head);
        if (tail === head) return head;
        for (; tail < head; tail++) {
          const s = tail % RING_SLOTS;
          const c = ctl[CTL.meta + s];
          const w = spans[4 * c];
          const count = spans[4 * c + 2];
          const target = out[w];
          const at = ringAt + s * E * 4;
          if (target instanceof Float64Array) target.set(new Float64Array(ring, at, count), spans[4 * c + 1]);
          else target.set(new Float32Array(ring, at, count), spans[4 * c + 1]);
          finished(w);
        }
        Atomics.store(ctl, CTL.tail, tail);
        Atomics.notify(ctl, CTL.tail);
        return head;
      };
      const check = () => {
        if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
        if (state.error) throw state.error;
      };
      // In place only when the kernel's lane padding stays inside the chunk: a short last chunk
      // of a tensor would write past its end, into the next tensor, so it goes through the buffer.
      let placed = false;
      const place = (c: number) => {
        const count = spans[4 * c + 2];
        placed = arena !== undefined && count % KERNEL_LANES === 0;
        return placed ? out[spans[4 * c]].byteOffset + spans[4 * c + 1] * spans[4 * c + 3] : buffers.out;
      };
      const emit = (_c: number, w: number, start: number, count: number, f64: boolean) => {
        if (!placed) out[w].set((f64 ? out64 : out32).subarray(0, count), start);
        finished(w);
        drain();
      };
      try {
        while (!processChunks(job, kernel, readSync, YIELD_MS, place, emit)) {
          drain();
          await new Promise((resolve) => setImmediate(resolve));
          check();
        }
      } catch (e) {
        throw toSoupError(e);
      }
      // This thread has no chunk left: copy the worker's last ones as they come.
      for (;;) {
        const seen = drain();
        check();
        if (chunksDone === total) break;
        if (state.exited) throw new SoupError('READ_FAILED', 'the averaging thread stopped before its share was done');
        // Wakes when the worker publishes past `seen` (at once if it already has). A pending
        // waitAsync does not keep Node's event loop alive: a timer does, until the worker's exit.
        const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, CTL.head, seen, 20);
        if (wait.async) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([wait.value, new Promise((resolve) => (timer = setTimeout(resolve, 20)))]);
          clearTimeout(timer);
        }
      }
      ok = true;
    } finally {
      Atomics.store(ctl, CTL.abort, 1);
      Atomics.notify(ctl, CTL.tail);
      await worker?.stop(ok);
      for (const fd of opened.values()) closeSync(fd);
    }
    return out;
  }
}

/**
 * Chunk kernels not in use, by size and kind. A fresh kernel's memory costs about 1 ms to
 * allocate and fault in, as much as averaging 10 MB: a greedy cook makes a mean per candidate.
 */
const freeKernels = new Map<string, ChunkKernel[]>();

function borrowKernel(bytes: number, kind: 'simd' | 'js'): ChunkKernel {
  return freeKernels.get(`${kind}:${bytes}`)?.pop() ?? createKernel(bytes, kind);
}

/** Keeps up to two kernels of each size and kind (means rarely overlap). */
function returnKernel(kernel: ChunkKernel, bytes: number, kind: 'simd' | 'js'): void {
  const key = `${kind}:${bytes}`;
  const free = freeKernels.get(key) ?? [];
  if (free.length < 2) free.push(kernel);
  freeKernels.set(key, free);
}

/** The averaging worker for one {@link StreamingMean.mean} call. */
interface PendingWorker {
  /**
   * The worker's kernel memory of `bytes` (shared WebAssembly memory for the SIMD kernel, else a
   * SharedArrayBuffer), kept with the worker between calls, and its id (the worker keeps its
   * kernel over the memory of the same id).
   */
  memory(bytes: number, simd: boolean): { memory: WebAssembly.Memory | SharedArrayBuffer; id: number };
  run(job: ShareJob): { error?: SoupError; exited: boolean };
  /** Ends the call: after a successful mean the worker goes back to the pool; otherwise (cancelled, failed) it is terminated. */
  stop(reuse: boolean): Promise<void>;
}

interface PooledWorker {
  worker: Worker;
  exited: boolean;
  /** Its kernel memory, kept between calls (see {@link PendingWorker.memory}). */
  memory?: { key: string; memory: WebAssembly.Memory | SharedArrayBuffer; id: number };
}

let memoryIds = 0;

/**
 * One idle worker kept between calls (unref'd: it never keeps the process alive). Started by
 * {@link prewarmMeanWorker} (a cook calls it as it starts) so that the first mean does not wait
 * the ~30 ms a thread takes to start; never at import, so the extension host, which imports the
 * soup registry for its labels, starts no thread.
 */
let idle: PooledWorker | undefined;

function spawn(): PooledWorker | undefined {
  try {
    const p: PooledWorker = { worker: new Worker(WORKER_BOOTSTRAP, { eval: true }), exited: false };
    // A worker that cannot start takes no chunk: the main thread then does them all.
    p.worker.on('error', () => undefined);
    p.worker.on('exit', () => {
      p.exited = true;
      if (idle === p) idle = undefined;
    });
    p.worker.unref();
    return p;
  } catch {
    return undefined;
  }
}

/** Starts the idle averaging worker ahead of use, on machines with 2 cores or more. */
export function prewarmMeanWorker(): void {
  if (!idle && availableParallelism() > 1) idle = spawn();
}

/** Terminates the idle averaging worker, if any (e.g. before shutting down; the next mean starts a new one). */
export async function stopIdleWorker(): Promise<void> {
  const p = idle;
  idle = undefined;
  if (p && !p.exited) await p.worker.terminate();
}

/** The pooled worker or a new one, or null when worker threads are unavailable. */
function startWorker(): PendingWorker | null {
  let p = idle && !idle.exited ? idle : undefined;
  idle = undefined;
  p ??= spawn();
  if (!p) return null;
  const pooled = p;
  const { worker } = pooled;
  worker.ref();
  const state: { error?: SoupError; exited: boolean; done: boolean } = { exited: false, done: false };
  // Resolves when the worker is done with this job (done, error or exit).
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const onMessage = (msg: { done?: boolean; error?: { code?: SoupErrorCode; problem: string; file?: string } }) => {
    if (msg.done) state.done = true;
    if (msg.error) state.error = new SoupError(msg.error.code ?? 'READ_FAILED', msg.error.code ? msg.error.problem : `averaging thread failed: ${msg.error.problem}`, msg.error.file);
    settle();
  };
  const onExit = () => {
    state.exited = true;
    settle();
  };
  worker.on('message', onMessage);
  worker.on('exit', onExit);
  if (pooled.exited) onExit();
  return {
    memory(bytes, simd) {
      const key = `${simd ? 'simd' : 'js'}:${bytes}`;
      if (pooled.memory?.key !== key) {
        const pages = Math.ceil(bytes / 65536);
        pooled.memory = { key, memory: simd ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) : new SharedArrayBuffer(bytes), id: ++memoryIds };
      }
      return pooled.memory;
    },
    run(job) {
      worker.postMessage({ ...job, source: workerSource() });
      return state;
    },
    async stop(reuse) {
      // The worker posts `done` right after its last chunk: wait for it briefly so it can be reused.
      if (reuse) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, 50)))]);
        clearTimeout(timer);
      }
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (reuse && state.done && !state.error && !state.exited && !idle) {
        worker.unref();
        idle = pooled;
      } else if (!state.exited) await worker.terminate();
    },
  };
}

/** Atomics.waitAsync (ES2024; in Node since 16), which this project's lib setting does not declare. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new SoupError('INGREDIENT_CHANGED', 'the file disappeared during the cook; nothing was written', file);
    throw new SoupError('READ_FAILED', `cannot open (${err.code})`, file);
  }
}

function toSoupError(e: unknown): unknown {
  const err = e as { soupCode?: SoupErrorCode; problem?: string; file?: string };
  return err && typeof err === 'object' && err.soupCode ? new SoupError(err.soupCode, err.problem ?? '', err.file) : e;
}
