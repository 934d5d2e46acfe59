import { promises as fsp } from 'node:fs';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import { OnnxDataType } from '../../src/engine/formats/onnxSchema';
import type { WeightSet } from '../../src/engine/soups/weights';

/**
 * PROTOTYPE (benchmark only, not used by the engine): the uniform mean of `models` computed
 * tensor by tensor and chunk by chunk. Each member's chunk is read into a small buffer that stays
 * in cache, the float64 sums exist for one chunk only, and the next chunk's reads (libuv threads)
 * overlap the current chunk's arithmetic (main thread). Same float64 order of additions as
 * WeightSum, so the result is bit-identical; memory is one float32 model plus 2 × K chunks.
 */
export async function chunkedUniformMean(models: OnnxModelInfo[], chunkElems = 1 << 16): Promise<WeightSet> {
  const layout = models[0];
  const handles = new Map<string, fsp.FileHandle>();
  const open = async (file: string) => {
    let fh = handles.get(file);
    if (!fh) {
      fh = await fsp.open(file, 'r');
      handles.set(file, fh);
    }
    return fh;
  };
  const sets = [0, 1].map(() => models.map(() => new Float32Array(chunkElems)));
  const acc = new Float64Array(chunkElems);
  const out: WeightSet = [];
  try {
    for (const [i, w] of layout.weights.entries()) {
      if (w.dataType !== OnnxDataType.FLOAT) throw new Error('prototype: float32 weights only');
      const mean = new Float32Array(w.numel);
      out.push(mean);
      const readChunk = (start: number, set: Float32Array[]) =>
        Promise.all(models.map(async (m, k) => {
          const d = m.weights[i].data;
          const fh = await open(d.kind === 'inline' ? m.path : d.file);
          const n = Math.min(chunkElems, w.numel - start) * 4;
          const bytes = new Uint8Array(set[k].buffer, 0, n);
          for (let done = 0; done < n; ) {
            const { bytesRead } = await fh.read(bytes, done, n - done, d.offset + start * 4 + done);
            if (bytesRead === 0) throw new Error('file ended');
            done += bytesRead;
          }
        }));
      let pending = readChunk(0, sets[0]);
      for (let start = 0, turn = 0; start < w.numel; start += chunkElems, turn ^= 1) {
        await pending;
        const next = start + chunkElems;
        if (next < w.numel) pending = readChunk(next, sets[turn ^ 1]);
        const m = Math.min(chunkElems, w.numel - start);
        const set = sets[turn];
        const first = set[0];
        for (let j = 0; j < m; j++) acc[j] = 0 + first[j]; // 0 + x, as WeightSum starts from zero (turns -0 into +0)
        for (let k = 1; k < set.length; k++) {
          const x = set[k];
          for (let j = 0; j < m; j++) acc[j] += x[j];
        }
        const K = set.length;
        for (let j = 0; j < m; j++) mean[start + j] = acc[j] / K;
      }
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  return out;
}
