import type { DatasetOptions, DatasetSource } from '../config';
import type { LoadDatasetOptions } from '../evaluate/dataset';
import { datasetBatch, loadDataset } from '../evaluate/dataset';
import type { DatasetContext, DatasetReader, EvalDataset } from './evalDataset';

/** An array-file dataset: every input in memory (float32, or uint8 scaled batch by batch). */
export interface ArrayDataset extends EvalDataset {
  x: Float32Array | Uint8Array;
}

/**
 * Opens array files: an `.npz` with `x` and `y`, or a pair of `.npy` files, read by
 * `evaluate/dataset.ts` (`scale` multiplies `x`).
 */
export async function openArrayFiles(key: string, source: DatasetSource, workspace: string, scale?: number, opts: LoadDatasetOptions = {}): Promise<ArrayDataset> {
  const ds = await loadDataset(key, source, workspace, scale, opts);
  return {
    ...ds,
    kind: 'arrays',
    classesCovered: new Set(ds.y).size,
    readBatch: async (start, count) => datasetBatch(ds, start, count),
    close: async () => undefined,
  };
}

/** The reader of array files. */
export const arrayFilesReader: DatasetReader = {
  kind: 'arrays',
  open: (key: string, source: DatasetSource, _options: Omit<DatasetOptions, 'path'>, ctx: DatasetContext) => openArrayFiles(key, source, ctx.workspace, ctx.scale, { maxDatasetMB: ctx.maxDatasetMB, signal: ctx.signal }),
};
