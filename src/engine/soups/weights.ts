import { promises as fsp } from 'node:fs';
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

/**
 * Reads the weights of one model, tensor by tensor, straight from its file (or external data
 * files) into typed arrays. Never reads a whole file into one buffer, so models and data files
 * over 2 GiB work.
 */
export class WeightReader {
  private readonly handles = new Map<string, fsp.FileHandle>();

  constructor(readonly model: OnnxModelInfo) {}

  /** Reads weight `i` into `into` (allocated when absent) and returns it. */
  async read(i: number, into?: WeightArray): Promise<WeightArray> {
    const w = this.model.weights[i];
    const out = into ?? allocWeight(w);
    const file = w.data.kind === 'inline' ? this.model.path : w.data.file;
    let fh = this.handles.get(file);
    if (!fh) {
      try {
        fh = await fsp.open(file, 'r');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // The structure was read moments ago: a missing file now means it went away mid-cook.
        if (code === 'ENOENT') throw new SoupError('INGREDIENT_CHANGED', 'the file disappeared during the cook; nothing was written', file);
        throw new SoupError('READ_FAILED', `cannot open (${code})`, file);
      }
      this.handles.set(file, fh);
    }
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    if (bytes.length !== w.data.length) throw new SoupError('INCOMPATIBLE', `weight "${w.name}" has ${w.data.length} bytes, expected ${bytes.length}`, this.model.path);
    for (let done = 0; done < bytes.length; ) {
      const n = Math.min(MAX_READ, bytes.length - done);
      const { bytesRead } = await fh.read(bytes, done, n, w.data.offset + done);
      if (bytesRead === 0) throw new SoupError('INGREDIENT_CHANGED', `file ended while reading weight "${w.name}" (changed during the cook?)`, file);
      done += bytesRead;
    }
    return out;
  }

  /** Reads every weight. */
  async readAll(): Promise<WeightSet> {
    const out: WeightSet = [];
    for (let i = 0; i < this.model.weights.length; i++) out.push(await this.read(i));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.close()));
    this.handles.clear();
  }
}

/** Reads every weight of a model and closes its files. */
export async function loadWeights(model: OnnxModelInfo): Promise<WeightSet> {
  const r = new WeightReader(model);
  try {
    return await r.readAll();
  } finally {
    await r.close();
  }
}

/**
 * Running float64 sums of member weights: the soup's state. Adding an ingredient streams it
 * tensor by tensor, so memory is the sums plus one tensor, whatever the number of members.
 * Means are the exact float64 mean rounded to float32, as PyTorch computes it in float64.
 */
export class WeightSum {
  private readonly sums: Float64Array[];
  /** One buffer as large as the largest tensor: each streamed tensor is read into it. */
  private readonly scratch: ArrayBuffer;
  count = 0;

  constructor(readonly layout: OnnxModelInfo) {
    this.sums = layout.weights.map((w) => new Float64Array(w.numel));
    this.scratch = new ArrayBuffer(Math.max(0, ...layout.weights.map((w) => w.data.length)));
  }

  /** Adds one ingredient's weights. */
  async add(model: OnnxModelInfo, signal?: AbortSignal): Promise<void> {
    await this.stream(model, signal, (i, w) => {
      const s = this.sums[i];
      for (let k = 0; k < s.length; k++) s[k] += w[k];
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
    await this.stream(extra, signal, (i, w) => {
      const s = this.sums[i];
      const t = target[i];
      for (let k = 0; k < s.length; k++) t[k] = (s[k] + w[k]) / n;
    });
    return target;
  }

  private async stream(model: OnnxModelInfo, signal: AbortSignal | undefined, fn: (i: number, w: WeightArray) => void): Promise<void> {
    const reader = new WeightReader(model);
    try {
      for (let i = 0; i < this.layout.weights.length; i++) {
        if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
        const w = this.layout.weights[i];
        const view = w.dataType === OnnxDataType.DOUBLE ? new Float64Array(this.scratch, 0, w.numel) : new Float32Array(this.scratch, 0, w.numel);
        fn(i, await reader.read(i, view));
      }
    } finally {
      await reader.close();
    }
  }
}
