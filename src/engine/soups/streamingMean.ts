import { SoupError } from '../errors';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { OnnxDataType } from '../formats/onnxSchema';
import type { ChunkKernel } from './simdKernel';
import { createKernel, KERNEL_LANES } from './simdKernel';
import type { Chunk, WeightSet } from './weights';
import { allocWeight, CHUNK_ELEMS, checkSameLayout, chunkSpans, streamChunks, WeightReader } from './weights';

/** How a {@link StreamingMean} works; the defaults are what the engine uses. */
export interface StreamingMeanConfig {
  /** Elements per chunk (float32; float64 tensors use half): a multiple of 4. Default 65 536 (256 KB). */
  chunkElems?: number;
  /** 'simd' (WebAssembly, the default, JS where unavailable) or 'js'. */
  kernel?: 'simd' | 'js';
}

/** Options of one {@link StreamingMean.mean} call. */
export interface MeanOptions {
  signal?: AbortSignal;
  /** Called after each tensor is complete. */
  onTensor?: (done: number, total: number) => void;
  /** Where to write the mean (a set of the models' layout, e.g. one no longer needed); allocated when absent. */
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

  constructor(config: StreamingMeanConfig = {}) {
    this.chunkElems = config.chunkElems ?? CHUNK_ELEMS;
    this.kernel = config.kernel ?? 'simd';
    if (this.chunkElems <= 0 || this.chunkElems % KERNEL_LANES) throw new RangeError(`chunkElems must be a positive multiple of ${KERNEL_LANES}`);
  }

  /** The mean of `models` (the first one's layout; every model must have the same). */
  async mean(models: OnnxModelInfo[], opts: MeanOptions = {}): Promise<WeightSet> {
    const { signal } = opts;
    if (models.length === 0) throw new SoupError('NO_INGREDIENTS', 'cannot average zero models');
    if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    const layout = models[0];
    for (const m of models) checkSameLayout(layout, m);
    const out = opts.out ?? layout.weights.map(allocWeight);
    layout.weights.forEach((w, i) => {
      if (out[i]?.length !== w.numel || out[i] instanceof Float64Array !== (w.dataType === OnnxDataType.DOUBLE)) throw new RangeError(`out[${i}] does not fit weight "${w.name}"`);
    });

    // One memory: the float64 chunk sum, the output chunk (float32 or float64), the read slot.
    const E = this.chunkElems;
    const accAt = 0;
    const outAt = E * 8;
    const slotAt = E * 16;
    const kernel: ChunkKernel = createKernel(slotAt + E * 4, this.kernel);
    const mem = kernel.memory;
    const acc = new Float64Array(mem, accAt, E);
    const slot = new Uint8Array(mem, slotAt, E * 4);
    const outChunk32 = new Float32Array(mem, outAt, E);
    const outChunk64 = new Float64Array(mem, outAt, E);

    const K = models.length;
    const readers = models.map((m) => new WeightReader(m));
    const T = layout.weights.length;
    function* chunks(): Generator<Chunk & { member: number }> {
      // Tensor by tensor, chunk by chunk, and within a chunk every member in member order.
      for (const [i, w] of layout.weights.entries()) {
        for (const span of chunkSpans(w, E)) for (const [member, reader] of readers.entries()) yield { ...span, reader, weight: i, member };
      }
    }
    let tensorsDone = 0;
    try {
      await streamChunks(chunks(), slot, (c, bytes) => {
        const at = bytes.byteOffset;
        const f64 = c.elemBytes === 8;
        if (c.member === 0) acc.fill(0, 0, c.count);
        if (f64) kernel.addF64(accAt, at, c.count);
        else kernel.addF32(accAt, at, c.count);
        if (c.member === K - 1) {
          const target = out[c.weight];
          if (f64) {
            kernel.divToF64(outAt, accAt, c.count, K);
            target.set(outChunk64.subarray(0, c.count), c.start);
          } else {
            kernel.divToF32(outAt, accAt, c.count, K);
            target.set(outChunk32.subarray(0, c.count), c.start);
          }
          if (c.start + c.count === layout.weights[c.weight].numel) opts.onTensor?.(++tensorsDone, T);
        }
      }, signal);
    } finally {
      await Promise.all(readers.map((r) => r.close()));
    }
    return out;
  }
}
