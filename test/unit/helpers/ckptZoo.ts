import * as path from 'node:path';
import { REPO } from './paths';

/** The fashion-ckpt fixture: the fashion-soup runs as training writes them. */
export const CKPT_ZOO = path.join(REPO, 'test', 'fixtures', 'fashion-ckpt');

/** Weights file of each ingredient of `expected.json` (ids as there), and its stored dtype. */
export const CKPT_INGREDIENTS: Record<string, { file: string; dtype: 'F32' | 'BF16' | 'F16'; prefix: string }> = {
  'runs/ft-00': { file: 'runs/ft-00/model.safetensors', dtype: 'F32', prefix: '' },
  'runs/ft-07/checkpoint-141': { file: 'runs/ft-07/checkpoint-141/model.safetensors', dtype: 'F32', prefix: '' },
  'runs/ft-08': { file: 'runs/ft-08/model.safetensors.index.json', dtype: 'F32', prefix: '' },
  'runs/ft-10': { file: 'runs/ft-10/pytorch_model.bin', dtype: 'F32', prefix: '' },
  'runs/ft-11': { file: 'runs/ft-11/model.safetensors', dtype: 'BF16', prefix: '' },
  'lightning_logs/version_0': { file: 'lightning_logs/version_0/checkpoints/epoch=2-step=140.ckpt', dtype: 'F32', prefix: 'model.' },
  'lightning_logs/version_1': { file: 'lightning_logs/version_1/checkpoints/epoch=4-step=469.ckpt', dtype: 'F32', prefix: 'model.' },
  'lightning_logs/version_2': { file: 'lightning_logs/version_2/checkpoints/epoch=0-step=93.ckpt', dtype: 'F32', prefix: 'model.' },
  'lightning_logs/version_3': { file: 'lightning_logs/version_3/checkpoints/epoch=5-step=1127.ckpt', dtype: 'F32', prefix: 'model.' },
  'sweep-a02': { file: 'sweep-a02/model.pt', dtype: 'F32', prefix: '' },
  'sweep-b05': { file: 'sweep-b05/model.pt', dtype: 'F32', prefix: 'module.' },
  'sweep-c09': { file: 'sweep-c09/model.safetensors', dtype: 'F16', prefix: '' },
};

/** Absolute path of a file of the fixture. */
export function ckptFile(relative: string): string {
  return path.join(CKPT_ZOO, relative);
}
