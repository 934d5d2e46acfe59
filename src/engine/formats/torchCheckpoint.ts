/**
 * PyTorch zip checkpoints (`torch.save` since 1.6; `pytorch_model.bin`, `*.pt`, `*.pth`,
 * Lightning `*.ckpt`): `<archive>/data.pkl` (the pickle), `<archive>/data/<key>` (one stored
 * entry per storage), `<archive>/byteorder`; `<archive>` is any folder name.
 *
 * The pickle runs in the restricted machine (pickleMachine.ts + torchPickle.ts), so nothing is
 * executed. The state dict is found in a bare state dict, Lightning's `state_dict`, or a
 * `{"model": ...}` / `{"state_dict": ...}` wrapper; its tensors become a lazy table of
 * {@link TensorEntry} (nothing of their data is read). Placeholders of non-allowlisted globals
 * are fine outside that path (Lightning `hyper_parameters` holding a user class); on it, or as
 * a tensor of the state dict, the file is refused as CHECKPOINT_UNSAFE naming the global.
 */
import { SoupError } from '../errors';
import { PickleError, unpickle } from './pickleMachine';
import { PyDict, PyOpaque, describePy, type PyValue } from './pickleValues';
import { dtypeSize } from './tensorDtypes';
import { TensorReader, type TensorEntry } from './tensorRead';
import { TorchPickleResolver, TorchStorageRef, TorchTensorRef } from './torchPickle';
import { openForReading, readAt } from './positionedRead';
import { closeZip, entryDataOffset, looksLikeZip, openZip, readZipEntry, type ZipDirectory } from './zipDirectory';

/** Largest `data.pkl` read (the pickle holds structure only; tensors are separate entries). */
export const MAX_PICKLE_BYTES = 512 * 1024 * 1024;

/** State of Lightning's ModelCheckpoint callback, as saved in a `.ckpt`'s `callbacks`. */
export interface CheckpointCallbackState {
  /** The key under `callbacks`, e.g. `ModelCheckpoint{'monitor': 'val_acc', ...}`. */
  key: string;
  monitor?: string;
  /** As saved: an absolute path of the training machine; match it by file name. */
  bestModelPath?: string;
  /** The monitored value of the best checkpoint (float32 shortest text, e.g. 0.8775). */
  bestModelScore?: number;
  lastModelPath?: string;
}

/** What a training framework saved beside the weights. */
export interface TrainingState {
  epoch?: number;
  globalStep?: number;
  /** The first ModelCheckpoint callback state that names a best model. */
  checkpointCallback?: CheckpointCallbackState;
}

/** A torch zip checkpoint's weights, as a lazy tensor table. */
export interface TorchWeights {
  file: string;
  /** The archive's top-level folder. */
  archive: string;
  byteOrder: 'little' | 'big';
  /** Keys leading from the pickle's top object to the state dict: `[]`, `['state_dict']`, `['model']`, ... */
  stateDictPath: string[];
  /** State-dict tensors in pickle order, names as saved (prefixes not stripped). */
  tensors: TensorEntry[];
  /** State-dict entries that are not tensors (skipped), by name. */
  skipped: string[];
  training: TrainingState;
  /** Non-allowlisted globals the pickle names (inert placeholders), `module.name`. */
  foreignGlobals: string[];
  /** Of those, the ones it would have called. */
  foreignCalls: string[];
}

const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'module', 'net', 'network', 'weights'];

/**
 * Reads a torch zip checkpoint's structure and its state dict's tensor table. Throws SoupError:
 * CHECKPOINT_INVALID (legacy pre-1.6 format, not a torch archive, malformed pickle, no state
 * dict, a view outside its storage), CHECKPOINT_UNSAFE (a call of a non-allowlisted global on the
 * path to the weights, named), ZIP_INVALID, FILE_NOT_FOUND, READ_FAILED; all name the file.
 */
export async function readTorchWeights(file: string): Promise<TorchWeights> {
  const zip = await openTorchZip(file);
  try {
    const { archive, byteOrder, root, resolver } = await readPickle(zip);
    const fail = (code: 'CHECKPOINT_INVALID' | 'CHECKPOINT_UNSAFE', problem: string): never => {
      throw new SoupError(code, problem, file);
    };
    const { path, dict } = findStateDict(root, fail);
    const tensors: TensorEntry[] = [];
    const skipped: string[] = [];
    const offsets = new Map<string, number>();
    for (const [key, value] of dict.map) {
      const name = typeof key === 'string' ? key : String(describePy(key));
      if (value instanceof PyOpaque) {
        if (value.how === 'unsupported') fail('CHECKPOINT_INVALID', `tensor "${name}" is built by ${value.global}, which is not supported (plain dense tensors only)`);
        fail('CHECKPOINT_UNSAFE', `tensor "${name}" of the state dict is ${describePy(value)}; nothing was executed`);
      }
      if (!(value instanceof TorchTensorRef)) {
        skipped.push(name);
        continue;
      }
      const dataOffset = await storageOffset(zip, archive, value.storage, offsets);
      tensors.push({
        name,
        dtype: value.dtype,
        shape: [...value.shape],
        numel: value.numel,
        file,
        dataOffset,
        storageNumel: Math.floor((value.storage.numel * (value.storage.dtype ? dtypeSize(value.storage.dtype) : 1)) / dtypeSize(value.dtype)),
        storageOffset: value.storageOffset,
        strides: [...value.strides],
        storageKey: value.storage.key,
        ...(byteOrder === 'big' ? { bigEndian: true } : {}),
      });
    }
    if (tensors.length === 0) fail('CHECKPOINT_INVALID', `the state dict${path.length ? ` under ${path.map((k) => `["${k}"]`).join('')}` : ''} holds no tensors`);
    const training = await trainingState(zip, archive, byteOrder, root, offsets);
    return {
      file, archive, byteOrder, stateDictPath: path, tensors, skipped, training,
      foreignGlobals: [...resolver.foreignGlobals], foreignCalls: [...resolver.foreignCalls],
    };
  } finally {
    await closeZip(zip);
  }
}

/** Opens the zip after refusing the legacy (non-zip) torch.save format by name. */
async function openTorchZip(file: string): Promise<ZipDirectory> {
  const zip = await openZip(file).catch(async (err: unknown) => {
    if (!(err instanceof SoupError) || err.code !== 'ZIP_INVALID') throw err;
    throw await notAZip(file, err);
  });
  return zip;
}

async function notAZip(file: string, zipError: SoupError): Promise<SoupError> {
  const handle = await openForReading(file);
  try {
    const size = (await handle.stat()).size;
    const head = await readAt(handle, file, 0, Math.min(size, 512));
    if (!looksLikeZip(head)) {
      const tar = head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar';
      if (head[0] === 0x80 || tar) {
        return new SoupError('CHECKPOINT_INVALID', 'legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False) is not read; re-save it with a current PyTorch or as safetensors', file);
      }
      return new SoupError('CHECKPOINT_INVALID', 'not a PyTorch checkpoint (neither a torch.save zip nor safetensors)', file);
    }
    return zipError;
  } finally {
    await handle.close();
  }
}

async function readPickle(zip: ZipDirectory): Promise<{ archive: string; byteOrder: 'little' | 'big'; root: PyValue; resolver: TorchPickleResolver }> {
  const pkl = [...zip.entries.values()].find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (!pkl) throw new SoupError('CHECKPOINT_INVALID', 'no <folder>/data.pkl in the archive: not a torch.save checkpoint', zip.file);
  const archive = pkl.name.slice(0, -'/data.pkl'.length);
  const orderEntry = zip.entries.get(`${archive}/byteorder`);
  let byteOrder: 'little' | 'big' = 'little';
  if (orderEntry) {
    const text = (await readZipEntry(zip, orderEntry, { maxBytes: 16 })).toString('latin1').trim();
    if (text !== 'little' && text !== 'big') throw new SoupError('CHECKPOINT_INVALID', `${archive}/byteorder says "${text}", not little or big`, zip.file);
    byteOrder = text;
  }
  const data = await readZipEntry(zip, pkl, { maxBytes: MAX_PICKLE_BYTES });
  const resolver = new TorchPickleResolver();
  try {
    return { archive, byteOrder, root: unpickle(data, resolver), resolver };
  } catch (err) {
    if (err instanceof PickleError) throw new SoupError(err.unsafe ? 'CHECKPOINT_UNSAFE' : 'CHECKPOINT_INVALID', `${pkl.name}: ${err.message}`, zip.file);
    throw err;
  }
}

/** The state dict: the top object itself, or under a wrapper key (at most three levels down). */
function findStateDict(root: PyValue, fail: (code: 'CHECKPOINT_INVALID' | 'CHECKPOINT_UNSAFE', problem: string) => never): { path: string[]; dict: PyDict } {
  const unsafe = (v: PyOpaque, where: string): never =>
    v.how === 'unsupported'
      ? fail('CHECKPOINT_INVALID', `${where} is built by ${v.global}, which is not supported`)
      : v.how === 'call'
        ? fail('CHECKPOINT_UNSAFE', `pickle calls ${v.global} to build ${where}; nothing was executed`)
        : fail('CHECKPOINT_INVALID', `${where} is a pickled ${v.global} object (torch.save of a whole module?), not a state dict; save model.state_dict() instead`);
  if (root instanceof PyOpaque) unsafe(root, 'the checkpoint');
  let node: PyValue = root;
  const path: string[] = [];
  for (let depth = 0; depth <= 3; depth++) {
    if (!(node instanceof PyDict)) return fail('CHECKPOINT_INVALID', `${path.length ? `["${path.join('"]["')}"]` : 'the checkpoint'} is ${describePy(node)}, not a dict of tensors`);
    if (isTensorDict(node)) return { path, dict: node };
    const key = WRAPPER_KEYS.find((k) => node instanceof PyDict && node.get(k) !== undefined);
    if (!key) break;
    const next = node.get(key) as PyValue;
    path.push(key);
    if (next instanceof PyOpaque) unsafe(next, `["${path.join('"]["')}"]`);
    node = next;
  }
  const keys = root instanceof PyDict ? [...root.map.keys()].filter((k) => typeof k === 'string').slice(0, 12).join(', ') : '';
  return fail('CHECKPOINT_INVALID', `no state dict found (a dict of tensors at the top or under ${WRAPPER_KEYS.join(' / ')}); top-level keys: ${keys || 'none'}`);
}

/** A dict with string keys whose values include a tensor (or a placeholder standing for one). */
function isTensorDict(d: PyDict): boolean {
  let tensors = 0;
  for (const [k, v] of d.map) {
    if (typeof k !== 'string') return false;
    if (v instanceof TorchTensorRef) tensors++;
    else if (v instanceof PyDict) return false;
  }
  return tensors > 0;
}

/** Absolute file offset of a storage's bytes, checked to hold its declared size (cached by key). */
async function storageOffset(zip: ZipDirectory, archive: string, storage: TorchStorageRef, cache: Map<string, number>): Promise<number> {
  const known = cache.get(storage.key);
  if (known !== undefined) return known;
  const name = `${archive}/data/${storage.key}`;
  const entry = zip.entries.get(name);
  if (!entry) throw new SoupError('CHECKPOINT_INVALID', `storage "${storage.key}" has no entry ${name} in the archive`, zip.file);
  if (entry.method !== 0) throw new SoupError('CHECKPOINT_INVALID', `storage entry ${name} is compressed; torch.save stores storages uncompressed`, zip.file);
  const bytes = storage.numel * (storage.dtype ? dtypeSize(storage.dtype) : 1);
  if (entry.size < bytes) {
    throw new SoupError('CHECKPOINT_INVALID', `storage "${storage.key}" declares ${storage.numel} ${storage.typeName} elements (${bytes} bytes) but ${name} holds ${entry.size} bytes`, zip.file);
  }
  const offset = await entryDataOffset(zip, entry);
  cache.set(storage.key, offset);
  return offset;
}

async function trainingState(zip: ZipDirectory, archive: string, byteOrder: 'little' | 'big', root: PyValue, offsets: Map<string, number>): Promise<TrainingState> {
  const out: TrainingState = {};
  if (!(root instanceof PyDict)) return out;
  const epoch = root.get('epoch');
  const step = root.get('global_step');
  if (typeof epoch === 'number') out.epoch = epoch;
  if (typeof step === 'number') out.globalStep = step;
  const callbacks = root.get('callbacks');
  if (!(callbacks instanceof PyDict)) return out;
  for (const [key, state] of callbacks.map) {
    if (typeof key !== 'string' || !key.startsWith('ModelCheckpoint') || !(state instanceof PyDict)) continue;
    const best = state.get('best_model_path');
    if (typeof best !== 'string' || best === '') continue;
    const cb: CheckpointCallbackState = { key, bestModelPath: best };
    const monitor = state.get('monitor');
    if (typeof monitor === 'string') cb.monitor = monitor;
    const last = state.get('last_model_path');
    if (typeof last === 'string' && last !== '') cb.lastModelPath = last;
    const score = await scalarOf(zip, archive, byteOrder, state.get('best_model_score'), offsets);
    if (score !== undefined) cb.bestModelScore = score;
    out.checkpointCallback = cb;
    break;
  }
  return out;
}

/** A Python number, or the value of a one-element float tensor (shortest text of its float32). */
async function scalarOf(zip: ZipDirectory, archive: string, byteOrder: 'little' | 'big', v: PyValue | undefined, offsets: Map<string, number>): Promise<number | undefined> {
  if (typeof v === 'number') return v;
  if (!(v instanceof TorchTensorRef) || v.numel !== 1) return undefined;
  if (v.dtype !== 'F32' && v.dtype !== 'F64' && v.dtype !== 'F16' && v.dtype !== 'BF16') return undefined;
  const entry: TensorEntry = {
    name: 'best_model_score', dtype: v.dtype, shape: [...v.shape], numel: 1, file: zip.file,
    dataOffset: await storageOffset(zip, archive, v.storage, offsets),
    storageNumel: v.storage.numel, storageOffset: v.storageOffset, strides: [...v.strides],
    ...(byteOrder === 'big' ? { bigEndian: true } : {}),
  };
  const reader = new TensorReader();
  try {
    const value = Number((await reader.read(entry))[0]);
    return v.dtype === 'F64' ? value : shortestFloat32(value);
  } finally {
    await reader.close();
  }
}

/** The shortest decimal that reads back as the same float32 (0.8775, not 0.877500057220459). */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(x.toPrecision(p));
    if (Math.fround(candidate) === Math.fround(x)) return candidate;
  }
  return x;
}
