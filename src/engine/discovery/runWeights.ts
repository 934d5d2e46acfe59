/**
 * Which file of a run folder is its ingredient: the exported `model.onnx` where there is one (as
 * before checkpoints were read), else the best-ranked checkpoint weights file of the folder (the
 * names and ranking of `trackers/weightFiles.ts`: safetensors index, safetensors, PyTorch index,
 * `.pth`/`.pt`/`.bin`, `.ckpt`).
 */
import * as path from 'node:path';
import type { WeightFormat } from '../trackers/trackerRun';
import { rankWeightNames } from '../trackers/weightFiles';
import type { RunFolder } from './plainRun';
import { MODEL_FILE } from './plainRun';
import type { RunWeights } from './runRecord';

/** A run's ingredient file, and how its weights are stored when it is not a self-contained ONNX model. */
export interface FolderModel {
  modelPath: string;
  weights?: RunWeights;
}

/** The record's weights for a weights file of `format`; `undefined` for an ONNX model (it holds its own graph). */
export function runWeightsOf(file: string, format: WeightFormat): RunWeights | undefined {
  switch (format) {
    case 'onnx': return undefined;
    case 'safetensors': return { file, format: 'safetensors' };
    case 'safetensors-index': return { file, format: 'safetensors-sharded' };
    case 'torch-index': return { file, format: 'torch-sharded' };
    case 'torch':
    case 'lightning-ckpt': return { file, format: 'torch' };
  }
}

/** Checkpoint weights files of a folder (not ONNX: only `model.onnx` is a run's model), best first. */
export function checkpointFiles(folder: RunFolder): { name: string; format: WeightFormat }[] {
  return rankWeightNames(folder.files).filter((w) => w.format !== 'onnx');
}

/** True when the folder holds `model.onnx` or a checkpoint weights file. */
export function hasModel(folder: RunFolder): boolean {
  return folder.files.has(MODEL_FILE) || checkpointFiles(folder).length > 0;
}

/** The folder's ingredient: `model.onnx` first, else its best checkpoint weights file; `undefined` if none. */
export function folderModel(folder: RunFolder): FolderModel | undefined {
  if (folder.files.has(MODEL_FILE)) return { modelPath: path.join(folder.dir, MODEL_FILE) };
  const best = checkpointFiles(folder)[0];
  if (best === undefined) return undefined;
  const file = path.join(folder.dir, best.name);
  return { modelPath: file, weights: runWeightsOf(file, best.format) };
}
