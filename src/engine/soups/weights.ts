import { readSync, promises as fsp } from 'node:fs';
import { SoupError } from '../errors';
import type { OnnxModelInfo, OnnxWeight } from '../formats/onnxModel';
import { OnnxDataType } from '../formats/onnxSchema';

/** One model's averaged weights, in the architecture's weight order. */
export type WeightArray = Float32Array | Float64Array;
export type WeightSet = WeightArray[];

const MAX_READ = 1 << 30;

/** Allocates an empty array for a weight of the given type. */
export function allocWeight(w: OnnxWeight): WeightArray {
  return w.dataType === OnnxDataType.DOUBLE ? new Float64Array(w.numel) : new Float32Array(w.numel);
}

/** The array of {@link allocWeight}'s type for weight `w`, placed at `byteOffset` of `buffer`. */
export function weightView(w: OnnxWeight, buffer: ArrayBufferLike, byteOffset: number): WeightArray {
  return w.dataType === OnnxDataType.DOUBLE ? new Float64Array(buffer, byteOffset, w.numel) : new Float32Array(buffer, byteOffset, w.numel);
}

/** Bytes of a weight's array ({@link allocWeight}): float64 or float32 elements. */
export function weightBytes(w: OnnxWeight): number {
  return w.numel * (w.dataType === OnnxDataType.DOUBLE ? 8 : 4);
}

/**
 * Reads the weights of one model, tensor by tensor, straight from its file (or external data
 * files) into typed arrays. Never reads a whole file into one buffer, so models and data files
 * over 2 GiB work.
 */
export class WeightReader {
  private readonly handles = new Map<string, Promise<fsp.FileHandle>>();
  private readonly fds = new Map<string, number>();

  constructor(readonly model: OnnxModelInfo) {}

  /** Reads weight `i` into `into` (allocated when absent) and returns it. */
  async read(i: number, into?: WeightArray): Promise<WeightArray> {
    const w = this.model.weights[i];
    const out = into ?? allocWeight(w);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    if (bytes.length !== w.data.length) throw new SoupError('INCOMPATIBLE', `weight "${w.name}" has ${w.data.length} bytes, expected ${bytes.length}`, this.model.path);
    await this.readBytes(i, 0, bytes);
    return out;
  }

  /**
   * Reads `into.length` bytes of weight `i`'s data, from byte `from` of that weight on (a piece
   * of a tensor, for streaming in chunks). The range must lie inside the weight.
   */
  async readBytes(i: number, from: number, into: Uint8Array): Promise<void> {
    const { w, file } = this.locate(i, from, into);
    const fh = await this.open(file);
    for (let done = 0; done < into.length; ) {
      const n = Math.min(MAX_READ, into.length - done);
      const { bytesRead } = await fh.read(into, done, n, w.data.offset + from + done);
      if (bytesRead === 0) throw ended(w, file);
      done += bytesRead;
    }
  }

  /**
   * {@link readBytes} without a round trip through libuv's thread pool, for small pieces read
   * back to back: the file of weight `i` must be open already ({@link openFor}).
   */
  readBytesSync(i: number, from: number, into: Uint8Array): void {
    const { w, file } = this.locate(i, from, into);
    const fd = this.fds.get(file);
    if (fd === undefined) throw new Error(`WeightReader: ${file} is not open`);
    for (let done = 0; done < into.length; ) {
      const bytesRead = readSync(fd, into, done, Math.min(MAX_READ, into.length - done), w.data.offset + from + done);
      if (bytesRead === 0) throw ended(w, file);
      done += bytesRead;
    }
  }

  /** True when the file holding weight `i` is open (so {@link readBytesSync} can read it). */
  isOpenFor(i: number): boolean {
    return this.fds.has(this.fileOf(i));
  }

  /** Opens the file holding weight `i` (once). */
  async openFor(i: number): Promise<void> {
    await this.open(this.fileOf(i));
  }

  private fileOf(i: number): string {
    const w = this.model.weights[i];
    return w.data.kind === 'inline' ? this.model.path : w.data.file;
  }

  private locate(i: number, from: number, into: Uint8Array): { w: OnnxWeight; file: string } {
    const w = this.model.weights[i];
    if (from < 0 || from + into.length > w.data.length) throw new RangeError(`bytes ${from}..${from + into.length} are outside weight "${w.name}" (${w.data.length} bytes)`);
    return { w, file: this.fileOf(i) };
  }

  private open(file: string): Promise<fsp.FileHandle> {
    // Kept as a promise so that concurrent reads of one file share one handle.
    let fh = this.handles.get(file);
    if (!fh) {
      fh = fsp.open(file, 'r').then(
        (h) => {
          this.fds.set(file, h.fd);
          return h;
        },
        (err: NodeJS.ErrnoException) => {
          // The structure was read moments ago: a missing file now means it went away mid-cook.
          if (err.code === 'ENOENT') throw new SoupError('INGREDIENT_CHANGED', 'the file disappeared during the cook; nothing was written', file);
          throw new SoupError('READ_FAILED', `cannot open (${err.code})`, file);
        },
      );
      this.handles.set(file, fh);
    }
    return fh;
  }

  /** Reads every weight, into `into` when given (a set of the same layout, reused). */
  async readAll(into?: WeightSet): Promise<WeightSet> {
    const out: WeightSet = into ?? [];
    for (let i = 0; i < this.model.weights.length; i++) out[i] = await this.read(i, into?.[i]);
    return out;
  }

  async close(): Promise<void> {
    const opened = await Promise.allSettled(this.handles.values());
    this.handles.clear();
    this.fds.clear();
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
  }
}

function ended(w: OnnxWeight, file: string): SoupError {
  return new SoupError('INGREDIENT_CHANGED', `file ended while reading weight "${w.name}" (changed during the cook?)`, file);
}

/**
 * Reads every weight of a model and closes its files. With `into` (a set of the same layout,
 * e.g. the previous model's), the weights overwrite it instead of taking new memory.
 */
export async function loadWeights(model: OnnxModelInfo, into?: WeightSet): Promise<WeightSet> {
  const r = new WeightReader(model);
  try {
    return await r.readAll(into);
  } finally {
    await r.close();
  }
}

/** One piece of one weight of one model, to be read by {@link streamChunks}. */
export interface Chunk {
  reader: WeightReader;
  /** Weight index. */
  weight: number;
  /** First element of the piece within the weight. */
  start: number;
  /** Number of elements. */
  count: number;
  /** Bytes per element (4 or 8). */
  elemBytes: number;
}

/** How long the averaging loops run before letting the event loop in (cancellation, IPC), ms. */
const YIELD_MS = 10;

/**
 * Reads `chunks` in order, each into `slot` (which it must fit), and hands each to `use`.
 * Reads are synchronous (`pread` on this thread, one small read per chunk): for pieces of
 * 256 KB already in the page cache that is about twice as fast as a read through libuv's
 * thread pool, whose hand-off costs 10-30 µs per call (measured, see docs/benchmark.md), and
 * a destination that stays in this core's cache makes the copy faster than a memcpy. Every
 * {@link YIELD_MS} the loop lets the event loop run and checks `signal`.
 */
export async function streamChunks<C extends Chunk>(chunks: Iterable<C>, slot: Uint8Array, use: (chunk: C, bytes: Uint8Array) => void, signal?: AbortSignal): Promise<void> {
  let since = performance.now();
  for (const c of chunks) {
    if (!c.reader.isOpenFor(c.weight)) await c.reader.openFor(c.weight);
    const bytes = slot.subarray(0, c.count * c.elemBytes);
    c.reader.readBytesSync(c.weight, c.start * c.elemBytes, bytes);
    use(c, bytes);
    if (performance.now() - since > YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
      since = performance.now();
    }
  }
}

/** The pieces of weight `w`, `elems` elements at most each (float64 weights: half as many). */
export function* chunkSpans(w: OnnxWeight, elems: number): Generator<{ start: number; count: number; elemBytes: number }> {
  const elemBytes = w.dataType === OnnxDataType.DOUBLE ? 8 : 4;
  const per = elemBytes === 8 ? elems >> 1 : elems;
  for (let start = 0; start < w.numel; start += per) yield { start, count: Math.min(per, w.numel - start), elemBytes };
}

/** Checks that `model` has `layout`'s weights (count, types and sizes) before any arithmetic. */
export function checkSameLayout(layout: OnnxModelInfo, model: OnnxModelInfo): void {
  if (model.weights.length !== layout.weights.length) throw new SoupError('INCOMPATIBLE', `has ${model.weights.length} weights, expected ${layout.weights.length}`, model.path);
  layout.weights.forEach((l, i) => {
    const w = model.weights[i];
    if (w.dataType !== l.dataType || w.data.length !== l.data.length) {
      throw new SoupError('INCOMPATIBLE', `weight "${w.name}" is ${w.data.length} bytes of type ${w.dataType}, expected ${l.data.length} bytes of type ${l.dataType}`, model.path);
    }
  });
}

/** Elements per streamed chunk: 256 KB of float32, small enough to stay in a core's cache. */
export const CHUNK_ELEMS = 1 << 16;

/**
 * Running float64 sums of member weights, full size in memory (2x a float32 model): the plain
 * definition of a soup's mean, kept as the reference that `StreamingMean` (which every
 * soup now uses, greedy candidates included) is tested and benchmarked against. Adding an
 * ingredient streams it in small chunks. Means are the exact float64 mean rounded to float32,
 * as PyTorch computes it in float64.
 */
export class WeightSum {
  private readonly sums: Float64Array[];
  private readonly slot = new Uint8Array(CHUNK_ELEMS * 4);
  count = 0;

  constructor(readonly layout: OnnxModelInfo) {
    this.sums = layout.weights.map((w) => new Float64Array(w.numel));
  }

  /** Adds one ingredient's weights. */
  async add(model: OnnxModelInfo, signal?: AbortSignal): Promise<void> {
    await this.stream(model, signal, (c, w) => {
      const s = this.sums[c.weight];
      for (let k = 0, at = c.start; k < c.count; k++, at++) s[at] += w[k];
    });
    this.count++;
  }

  /**
   * The mean of the members plus `extra` (if given) written into `out` (allocated on first use).
   * Used by greedy soup to try a candidate without changing the sums.
   */
  async meanWith(extra: OnnxModelInfo | undefined, out?: WeightSet, signal?: AbortSignal): Promise<WeightSet> {
    const target = out ?? this.layout.weights.map(allocWeight);
    if (!extra) {
      if (this.count === 0) throw new SoupError('NO_INGREDIENTS', 'cannot average zero models');
      const inv = this.count;
      this.sums.forEach((s, i) => {
        const t = target[i];
        for (let k = 0; k < s.length; k++) t[k] = s[k] / inv;
      });
      return target;
    }
    const n = this.count + 1;
    await this.stream(extra, signal, (c, w) => {
      const s = this.sums[c.weight];
      const t = target[c.weight];
      for (let k = 0, at = c.start; k < c.count; k++, at++) t[at] = (s[at] + w[k]) / n;
    });
    return target;
  }

  private async stream(model: OnnxModelInfo, signal: AbortSignal | undefined, fn: (c: Chunk, w: WeightArray) => void): Promise<void> {
    if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    checkSameLayout(this.layout, model);
    const reader = new WeightReader(model);
    const chunks = function* (): Generator<Chunk> {
      for (const [i, w] of model.weights.entries()) for (const span of chunkSpans(w, CHUNK_ELEMS)) yield { ...span, reader, weight: i };
    };
    try {
      await streamChunks(chunks(), this.slot, (c, bytes) => fn(c, c.elemBytes === 8 ? new Float64Array(bytes.buffer, bytes.byteOffset, c.count) : new Float32Array(bytes.buffer, bytes.byteOffset, c.count)), signal);
    } finally {
      await reader.close();
    }
  }
}
