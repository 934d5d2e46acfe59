/**
 * One entry point for checkpoint weights: a safetensors file, a torch zip checkpoint
 * (`pytorch_model.bin`, `*.pt`, `*.pth`, `*.ckpt`), or a sharded set named by its index
 * (`model.safetensors.index.json` / `pytorch_model.bin.index.json`, `weight_map`), opened as
 * one lazy {@link WeightsTable}. Read values with a {@link TensorReader}.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../errors';
import { readSafetensorsHeader } from '../formats/safetensors';
import { contiguousStrides, type TensorEntry } from '../formats/tensorRead';
import { readTorchWeights, type TrainingState } from '../formats/torchCheckpoint';
import { readAt } from '../formats/positionedRead';

/** How the weights are stored. */
export type WeightsFormat = 'safetensors' | 'safetensors-sharded' | 'torch' | 'torch-sharded';

/** A checkpoint's tensors, by name; nothing of their data is read. */
export interface WeightsTable {
  /** The file opened (the index for sharded sets). */
  file: string;
  format: WeightsFormat;
  /** Every file holding tensors (the shards, in index order). */
  files: string[];
  /** Tensors in file order, names as saved (prefixes not stripped). */
  tensors: TensorEntry[];
  /** safetensors `__metadata__` (the first shard's for sharded sets). */
  metadata: Record<string, string>;
  /** Torch checkpoints: epoch, step and Lightning's ModelCheckpoint state. */
  training?: TrainingState;
  /** Torch checkpoints: non-allowlisted globals the pickle names (inert placeholders). */
  foreignGlobals?: string[];
}

/** Largest index JSON read. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * Opens a weights file: `*.index.json` as a sharded set, `*.safetensors` (or safetensors bytes)
 * as safetensors, anything else as a torch zip checkpoint. Throws SoupError naming the file:
 * SAFETENSORS_INVALID, CHECKPOINT_INVALID, CHECKPOINT_UNSAFE, ZIP_INVALID, FILE_NOT_FOUND, ...
 */
export async function openWeights(file: string): Promise<WeightsTable> {
  if (file.endsWith('.index.json')) return openSharded(file);
  if (file.endsWith('.safetensors') || (await looksLikeSafetensors(file))) return openSafetensors(file);
  const torch = await readTorchWeights(file);
  return { file, format: 'torch', files: [file], tensors: torch.tensors, metadata: {}, training: torch.training, foreignGlobals: torch.foreignGlobals };
}

async function openSafetensors(file: string): Promise<WeightsTable> {
  const header = await readSafetensorsHeader(file);
  const tensors = header.tensors.map((t): TensorEntry => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    return { name: t.name, dtype: t.dtype, shape: [...t.shape], numel, file, dataOffset: t.fileOffset, storageNumel: numel, storageOffset: 0, strides: contiguousStrides(t.shape) };
  });
  return { file, format: 'safetensors', files: [file], tensors, metadata: header.metadata };
}

/**
 * A sharded set: every tensor of `weight_map` must be in the shard it names, and every shard's
 * tensors must be in `weight_map` (a stale index is refused rather than half read).
 */
async function openSharded(indexFile: string): Promise<WeightsTable> {
  const fail = (problem: string): never => {
    throw new SoupError('CHECKPOINT_INVALID', problem, indexFile);
  };
  const map = await readWeightMap(indexFile);
  const dir = path.dirname(indexFile);
  const shardNames = [...new Set(map.values())];
  const tensors: TensorEntry[] = [];
  const files: string[] = [];
  let metadata: Record<string, string> | undefined;
  let training: TrainingState | undefined;
  const foreign = new Set<string>();
  for (const shard of shardNames) {
    if (path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) fail(`weight_map names shard "${shard}" outside the index's folder; refused`);
    const shardFile = path.join(dir, shard);
    const table = await openWeights(shardFile);
    files.push(shardFile);
    metadata ??= table.metadata;
    training ??= table.training;
    for (const g of table.foreignGlobals ?? []) foreign.add(g);
    for (const t of table.tensors) {
      const named = map.get(t.name);
      if (named === undefined) fail(`shard "${shard}" holds tensor "${t.name}", which weight_map does not list`);
      if (named !== shard) fail(`tensor "${t.name}" is in shard "${shard}" but weight_map names "${named}"`);
      tensors.push(t);
    }
  }
  const found = new Set(tensors.map((t) => t.name));
  for (const [name, shard] of map) if (!found.has(name)) fail(`weight_map names tensor "${name}" in "${shard}", which does not hold it`);
  const torch = shardNames.length > 0 && !shardNames[0].endsWith('.safetensors');
  return {
    file: indexFile, format: torch ? 'torch-sharded' : 'safetensors-sharded', files, tensors, metadata: metadata ?? {},
    ...(training ? { training } : {}), ...(foreign.size ? { foreignGlobals: [...foreign] } : {}),
  };
}

/** `weight_map` of an index file: tensor name -> shard file name. */
export async function readWeightMap(indexFile: string): Promise<Map<string, string>> {
  const fail = (problem: string): never => {
    throw new SoupError('CHECKPOINT_INVALID', problem, indexFile);
  };
  let text: string;
  try {
    const stat = await fsp.stat(indexFile);
    if (stat.size > MAX_INDEX_BYTES) fail(`index of ${stat.size} bytes is over the limit of ${MAX_INDEX_BYTES}`);
    text = await fsp.readFile(indexFile, 'utf8');
  } catch (err) {
    if (err instanceof SoupError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SoupError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'READ_FAILED', code === 'ENOENT' ? 'file not found' : `cannot read (${code})`, indexFile);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail(`index is not valid JSON (${(err as Error).message})`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) return fail('index has no "weight_map" object');
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '') fail(`weight_map entry "${name}" is not a file name`);
    out.set(name, shard as string);
  }
  if (out.size === 0) fail('weight_map is empty');
  return out;
}

/** safetensors starts with a little-endian u64 header length followed by `{`. */
async function looksLikeSafetensors(file: string): Promise<boolean> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch {
    return false; // the torch reader reports the missing file
  }
  try {
    const size = (await handle.stat()).size;
    if (size < 9) return false;
    const head = await readAt(handle, file, 0, 9);
    return head[8] === 0x7b && head[6] === 0 && head[7] === 0;
  } finally {
    await handle.close();
  }
}
