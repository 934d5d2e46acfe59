import type { OnnxModelInfo } from '../formats/onnxModel';
import { chunkLayout } from './meanWorker';
import type { ChunkKernel } from './simdKernel';
import { createKernel, simdModule } from './simdKernel';
import type { WeightSet } from './weights';
import { allocWeight, CHUNK_ELEMS, weightBytes, weightView } from './weights';

/**
 * A weight set allocated inside a chunk kernel's WebAssembly memory, after the kernel's own
 * chunk buffers: a mean written into it is written by the kernel in place, without the copy
 * from the kernel's chunk buffer into the set (measured: 15% of a 2-model mean's time).
 * onnxruntime reads such a set as it reads any (the memory is a plain, non-shared ArrayBuffer).
 */
export interface WeightArena {
  /** The kernel over the memory the set lives in; its chunk buffers come first ({@link chunkLayout}). */
  readonly kernel: ChunkKernel;
  /** Elements per chunk the kernel's buffers were sized for. */
  readonly chunkElems: number;
  /** True while a mean uses the kernel (its chunk buffers are not shareable). */
  busy: boolean;
}

/** A WebAssembly memory holds at most 65 536 pages of 64 KiB (addresses are 32-bit). */
const MAX_ARENA_BYTES = 65536 * 65536;

const arenas = new WeakMap<ArrayBufferLike, WeightArena>();

/**
 * An empty weight set of `layout`'s weights, in a {@link WeightArena} when the SIMD kernel is
 * available and the set fits a WebAssembly memory (up to 4 GiB with the chunk buffers); else
 * plain typed arrays (larger models, or no WebAssembly SIMD).
 */
export function allocWeightSet(layout: OnnxModelInfo, chunkElems = CHUNK_ELEMS): WeightSet {
  const plain = () => layout.weights.map(allocWeight);
  if (simdModule() === null) return plain();
  // Each tensor starts on an 8-byte boundary (float64 views); the chunk buffers come first.
  const starts: number[] = [];
  let at = chunkLayout(chunkElems).bytes;
  for (const w of layout.weights) {
    at = Math.ceil(at / 8) * 8;
    starts.push(at);
    at += weightBytes(w);
  }
  // No room for the kernel's lane padding is needed after the last tensor: StreamingMean writes
  // in place only chunks of whole lanes.
  if (at > MAX_ARENA_BYTES) return plain();
  let kernel: ChunkKernel;
  try {
    kernel = createKernel(at, 'simd');
  } catch {
    // The address space or memory for one more WebAssembly memory was refused: plain arrays work.
    return plain();
  }
  const set = layout.weights.map((w, i) => weightView(w, kernel.memory, starts[i]));
  arenas.set(kernel.memory, { kernel, chunkElems, busy: false });
  return set;
}

/** The arena `set` lives in, when every array of it is a view of one arena's memory. */
export function arenaOf(set: WeightSet): WeightArena | undefined {
  const arena = set.length > 0 ? arenas.get(set[0].buffer) : undefined;
  return arena && set.every((a) => a.buffer === set[0].buffer) ? arena : undefined;
}
