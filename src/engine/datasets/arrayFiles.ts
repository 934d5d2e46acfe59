import type { DatasetOptions, DatasetSource } from '../config';
import { loadDataset } from '../evaluate/dataset';
import type { DatasetContext, DatasetReader, EvalDataset } from './evalDataset';

/** An array-file dataset: every input in memory as float32. */
export interface ArrayDataset extends EvalDataset {
  x: Float32Array;
}

/**
 * Opens array files: an `.npz` with `x` and `y`, or a pair of `.npy` files, read by
 * `evaluate/dataset.ts` (`scale` multiplies `x`).
 */
export async function openArrayFiles(key: string, source: DatasetSource, workspace: string, scale?: number): Promise<ArrayDataset> {
  const ds = await loadDataset(key, source, workspace, scale);
  const perExample = ds.xShape.slice(1).reduce((a, b) => a * b, 1);
  return {
    ...ds,
    kind: 'arrays',
    classesCovered: new Set(ds.y).size,
    readBatch: async (start, count) => ds.x.subarray(start * perExample, (start + count) * perExample),
    close: async () => undefined,
  };
}

/** The reader of array files. */
export const arrayFilesReader: DatasetReader = {
  kind: 'arrays',
  open: (key: string, source: DatasetSource, _options: Omit<DatasetOptions, 'path'>, ctx: DatasetContext) => openArrayFiles(key, source, ctx.workspace, ctx.scale),
};
