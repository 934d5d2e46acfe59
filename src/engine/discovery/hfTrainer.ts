/**
 * Hugging Face Trainer output folders: `trainer_state.json`, `all_results.json`,
 * `eval_results.json`, `train_results.json`, `training_args.json`, `config.json`, the weights
 * (`model.safetensors`, sharded `model.safetensors.index.json`, `pytorch_model.bin` or its index;
 * an exported `model.onnx` takes priority), and possibly `checkpoint-N/` sub-folders, which
 * belong to the run: they are resolved here and never reported as runs of their own.
 */
import * as path from 'node:path';
import type { HParamValue, RunRecord } from './runRecord';
import { MODEL_FILE, checkAccuracy, checkAccuracyValue, finishRecord, isScalar, joinId, listRunFolder, normaliseHParams, presentFiles, readRunJson } from './runFolder';
import { isRecord } from '../../shared/validation';
import type { ReadResult, RunFolder, Score } from './runFolder';
import type { FolderModel } from './runWeights';
import { folderModel, hasModel } from './runWeights';

/** File names the Trainer writes into its output folder. */
export const HF_TRAINER_STATE = 'trainer_state.json';
export const HF_EVAL_RESULTS = 'eval_results.json';
export const HF_ALL_RESULTS = 'all_results.json';
export const HF_TRAIN_RESULTS = 'train_results.json';
export const HF_TRAINING_ARGS = 'training_args.json';
export const HF_CONFIG = 'config.json';
/** The accuracy field the Trainer writes for `metric_for_best_model="accuracy"`. */
export const HF_ACCURACY_FIELD = 'eval_accuracy';

/** Files whose presence (with a model) marks a Trainer output folder. `config.json` alone does not. */
const HF_MARKERS = [HF_TRAINER_STATE, HF_EVAL_RESULTS, HF_ALL_RESULTS, HF_TRAIN_RESULTS, HF_TRAINING_ARGS];
/** Files listed in a run's `files`, in display order. */
const HF_FILES = [...HF_MARKERS, HF_CONFIG, MODEL_FILE, 'model.safetensors'];

const CHECKPOINT_DIR = /^checkpoint-(\d+)$/;

/** `training_args.json` keys that are hyperparameters of the run (the rest is bookkeeping). */
const HF_HPARAM_ARGS = new Set([
  'learning_rate', 'weight_decay', 'num_train_epochs', 'per_device_train_batch_size', 'label_smoothing_factor',
  'seed', 'lr_scheduler_type', 'warmup_steps', 'optim',
]);
/**
 * Standard TrainingArguments fields that are not shown as hyperparameters. Scalar keys outside
 * both lists are the user's own additions (e.g. `augmentation`) and are kept.
 */
const HF_KNOWN_ARGS = new Set([
  'output_dir', 'overwrite_output_dir', 'do_train', 'do_eval', 'do_predict', 'eval_strategy', 'evaluation_strategy',
  'prediction_loss_only', 'per_device_eval_batch_size', 'per_gpu_train_batch_size', 'per_gpu_eval_batch_size',
  'gradient_accumulation_steps', 'eval_accumulation_steps', 'eval_delay', 'torch_empty_cache_steps', 'adam_beta1',
  'adam_beta2', 'adam_epsilon', 'max_grad_norm', 'max_steps', 'lr_scheduler_kwargs', 'warmup_ratio', 'log_level',
  'log_level_replica', 'log_on_each_node', 'logging_dir', 'logging_strategy', 'logging_first_step', 'logging_steps',
  'logging_nan_inf_filter', 'save_strategy', 'save_steps', 'save_total_limit', 'save_safetensors', 'save_on_each_node',
  'save_only_model', 'restore_callback_states_from_checkpoint', 'no_cuda', 'use_cpu', 'use_mps_device', 'data_seed',
  'jit_mode_eval', 'use_ipex', 'bf16', 'fp16', 'fp16_opt_level', 'half_precision_backend', 'bf16_full_eval',
  'fp16_full_eval', 'tf32', 'local_rank', 'ddp_backend', 'tpu_num_cores', 'tpu_metrics_debug', 'debug',
  'dataloader_drop_last', 'eval_steps', 'dataloader_num_workers', 'dataloader_prefetch_factor', 'past_index',
  'run_name', 'disable_tqdm', 'remove_unused_columns', 'label_names', 'load_best_model_at_end',
  'metric_for_best_model', 'greater_is_better', 'ignore_data_skip', 'fsdp', 'fsdp_min_num_params', 'fsdp_config',
  'fsdp_transformer_layer_cls_to_wrap', 'accelerator_config', 'deepspeed', 'optim_args', 'adafactor',
  'group_by_length', 'length_column_name', 'report_to', 'ddp_find_unused_parameters', 'ddp_bucket_cap_mb',
  'ddp_broadcast_buffers', 'dataloader_pin_memory', 'dataloader_persistent_workers', 'skip_memory_metrics',
  'use_legacy_prediction_loop', 'push_to_hub', 'resume_from_checkpoint', 'hub_model_id', 'hub_strategy',
  'hub_token', 'hub_private_repo', 'hub_always_push', 'gradient_checkpointing', 'gradient_checkpointing_kwargs',
  'include_inputs_for_metrics', 'include_for_metrics', 'eval_do_concat_batches', 'fp16_backend',
  'push_to_hub_model_id', 'push_to_hub_organization', 'push_to_hub_token', 'mp_parameters', 'auto_find_batch_size',
  'full_determinism', 'torchdynamo', 'ray_scope', 'ddp_timeout', 'torch_compile', 'torch_compile_backend',
  'torch_compile_mode', 'dispatch_batches', 'split_batches', 'include_tokens_per_second',
  'include_num_input_tokens_seen', 'neftune_noise_alpha', 'optim_target_modules', 'batch_eval_metrics',
  'eval_on_start', 'use_liger_kernel', 'eval_use_gather_object', 'average_tokens_across_devices',
]);

/**
 * True for a Trainer output folder: a marker file (`trainer_state.json`, `*_results.json`,
 * `training_args.json`) next to a model (`model.onnx` or weights, see runWeights.ts), or any
 * `checkpoint-N/` sub-folder with a model (the parent is then the run, not each checkpoint).
 */
export async function isHfTrainerRun(folder: RunFolder): Promise<boolean> {
  if (hasModel(folder) && HF_MARKERS.some((m) => folder.files.has(m))) return true;
  for (const name of checkpointDirs(folder)) {
    const sub = await listRunFolder(folder.root, path.join(folder.dir, name), folder.policy);
    if (sub && hasModel(sub)) return true;
  }
  return false;
}

/**
 * Reads a Trainer run. The ingredient is the `checkpoint-N/` named (by its last path segment) in
 * `trainer_state.json` `best_model_checkpoint` when that folder has a model; else the top-level
 * model; else, with neither, the highest-numbered checkpoint with a model. In each folder the
 * model is `model.onnx`, else its weights (see runWeights.ts).
 * Accuracy, top-level model: `eval_accuracy` of `eval_results.json`, else `all_results.json`,
 * else `trainer_state.json` `best_metric` (a missing file or field moves on to the next source;
 * an invalid value or unparsable file makes the run `unscored`). Chosen checkpoint: its own
 * `trainer_state.json` `log_history` `eval_accuracy` at step N, else (when it is the best) its
 * `best_metric`, else the run's `log_history` at step N, else (the best) the run's `best_metric`; a `log_history` with steps past its
 * file's `global_step` is not used. Never throws.
 */
export async function readHfTrainerRun(folder: RunFolder): Promise<RunRecord> {
  const json = new JsonCache(folder);
  const hparams = await readHfHParams(json);
  const checkpoint = await chooseCheckpoint(folder, json);
  const files = presentFiles(folder, HF_FILES);
  if (checkpoint === undefined) {
    const { modelPath, weights } = folderModel(folder) ?? { modelPath: path.join(folder.dir, MODEL_FILE) };
    const score = await scoreTopLevel(folder, json);
    return finishRecord({ folder, layout: 'hf', modelPath, weights, files: [...files, modelPath], hparams, score });
  }
  files.push(...presentFiles(checkpoint.folder, HF_FILES));
  const { modelPath, weights } = checkpoint.model;
  const score = await scoreCheckpoint(folder, checkpoint, json);
  return finishRecord({ folder, layout: 'hf', modelPath, weights, files: [...files, modelPath], hparams, score, checkpoint: checkpoint.name });
}

interface Checkpoint {
  name: string;
  step: number;
  folder: RunFolder;
  model: FolderModel;
  /** True when `best_model_checkpoint` named it (so its `best_metric` is its own accuracy). */
  isBest: boolean;
}

function checkpointDirs(folder: RunFolder): string[] {
  return [...folder.dirs].filter((d) => CHECKPOINT_DIR.test(d));
}

/** Last folder name of a path written on any OS (`/a/b/checkpoint-5/`, `C:\x\checkpoint-5`). */
export function lastPathSegment(p: string): string {
  const parts = p.split(/[\\/]+/).filter((s) => s !== '');
  return parts[parts.length - 1] ?? '';
}

async function chooseCheckpoint(folder: RunFolder, json: JsonCache): Promise<Checkpoint | undefined> {
  const names = checkpointDirs(folder);
  if (names.length === 0) return undefined;
  const state = await json.read(HF_TRAINER_STATE);
  const best = state?.ok && isRecord(state.value) && typeof state.value.best_model_checkpoint === 'string'
    ? lastPathSegment(state.value.best_model_checkpoint)
    : undefined;
  if (best !== undefined && names.includes(best)) {
    const sub = await listRunFolder(folder.root, path.join(folder.dir, best), folder.policy);
    const model = sub && folderModel(sub);
    // A top-level `model.onnx` keeps priority over a best checkpoint that has only weights.
    if (sub && model && (model.weights === undefined || !folder.files.has(MODEL_FILE))) {
      return { name: best, step: stepOf(best), folder: sub, model, isBest: true };
    }
  }
  if (hasModel(folder)) return undefined;
  // No final model: the latest checkpoint is the trainer's last state.
  for (const name of names.sort((a, b) => stepOf(b) - stepOf(a))) {
    const sub = await listRunFolder(folder.root, path.join(folder.dir, name), folder.policy);
    const model = sub && folderModel(sub);
    if (sub && model) return { name, step: stepOf(name), folder: sub, model, isBest: false };
  }
  return undefined;
}

function stepOf(name: string): number {
  return Number(CHECKPOINT_DIR.exec(name)?.[1] ?? Number.NaN);
}

async function scoreTopLevel(folder: RunFolder, json: JsonCache): Promise<Score> {
  for (const file of [HF_EVAL_RESULTS, HF_ALL_RESULTS]) {
    const read = await json.read(file);
    if (read === undefined) continue;
    const rel = joinId(folder.id, file);
    if (!read.ok) return read;
    if (!isRecord(read.value)) return { ok: false, reason: `${rel}: expected a JSON object` };
    if (HF_ACCURACY_FIELD in read.value) return checkAccuracy(read.value, rel, HF_ACCURACY_FIELD);
  }
  const state = await json.read(HF_TRAINER_STATE);
  if (state !== undefined) {
    const rel = joinId(folder.id, HF_TRAINER_STATE);
    if (!state.ok) return state;
    if (!isRecord(state.value)) return { ok: false, reason: `${rel}: expected a JSON object` };
    if (state.value.best_metric !== undefined && state.value.best_metric !== null) {
      return checkAccuracy(state.value, rel, 'best_metric');
    }
  }
  return {
    ok: false,
    reason: `${joinId(folder.id, '')}: no ${HF_ACCURACY_FIELD} in ${HF_EVAL_RESULTS} or ${HF_ALL_RESULTS} and no best_metric in ${HF_TRAINER_STATE}`,
  };
}

async function scoreCheckpoint(folder: RunFolder, checkpoint: Checkpoint, json: JsonCache): Promise<Score> {
  const ckptJson = new JsonCache(checkpoint.folder);
  const own = await ckptJson.read(HF_TRAINER_STATE);
  const ownRel = joinId(checkpoint.folder.id, HF_TRAINER_STATE);
  if (own !== undefined) {
    if (!own.ok) return own;
    if (!isRecord(own.value)) return { ok: false, reason: `${ownRel}: expected a JSON object` };
    const logged = scoreLogHistory(own.value, ownRel, checkpoint.step);
    if (logged) return logged;
    if (checkpoint.isBest && own.value.best_metric !== undefined && own.value.best_metric !== null) {
      return checkAccuracy(own.value, ownRel, 'best_metric');
    }
  }
  const runState = await json.read(HF_TRAINER_STATE);
  if (runState?.ok && isRecord(runState.value)) {
    const runRel = joinId(folder.id, HF_TRAINER_STATE);
    const logged = scoreLogHistory(runState.value, runRel, checkpoint.step);
    if (logged) return logged;
    if (checkpoint.isBest && runState.value.best_metric !== undefined && runState.value.best_metric !== null) {
      return checkAccuracy(runState.value, runRel, 'best_metric');
    }
  }
  return { ok: false, reason: `${ownRel}: no ${HF_ACCURACY_FIELD} logged at step ${checkpoint.step}` };
}

/**
 * The last `log_history` entry at `step` with an `eval_accuracy`, scored; `undefined` if none, or
 * when the history logs steps past the state's own `global_step` (it was not written with that
 * state, e.g. copied from the run's final state, so its entries do not describe this checkpoint).
 */
function scoreLogHistory(state: Record<string, unknown>, rel: string, step: number): Score | undefined {
  const history = Array.isArray(state.log_history) ? state.log_history : [];
  const saved = state.global_step;
  if (typeof saved === 'number' && history.some((e: unknown) => isRecord(e) && typeof e.step === 'number' && e.step > saved)) return undefined;
  for (let i = history.length - 1; i >= 0; i--) {
    const entry: unknown = history[i];
    if (isRecord(entry) && entry.step === step && HF_ACCURACY_FIELD in entry) {
      const field = `log_history[${i}].${HF_ACCURACY_FIELD}`;
      return checkAccuracyValue(entry[HF_ACCURACY_FIELD], rel, field);
    }
  }
  return undefined;
}

/**
 * Hyperparameters: `config.json` `finetuning_hparams`, overridden by the hyperparameter keys and
 * custom scalar keys of `training_args.json`; names normalised (see `normaliseHParams`).
 * Unreadable files only leave keys out.
 */
async function readHfHParams(json: JsonCache): Promise<Record<string, HParamValue>> {
  const out: Record<string, HParamValue> = {};
  const config = await json.read(HF_CONFIG);
  if (config?.ok && isRecord(config.value) && isRecord(config.value.finetuning_hparams)) {
    Object.assign(out, normaliseHParams(config.value.finetuning_hparams));
  }
  const args = await json.read(HF_TRAINING_ARGS);
  if (args?.ok && isRecord(args.value)) {
    const values = args.value;
    const keep = (key: string): boolean =>
      HF_HPARAM_ARGS.has(key) || (!HF_KNOWN_ARGS.has(key) && isScalar(values[key]));
    Object.assign(out, normaliseHParams(values, keep));
  }
  return out;
}

/** Parses each JSON file of a folder at most once; `undefined` when the folder lacks the file. */
class JsonCache {
  private readonly cache = new Map<string, Promise<ReadResult<unknown>>>();

  constructor(private readonly folder: RunFolder) {}

  read(name: string): Promise<ReadResult<unknown> | undefined> {
    if (!this.folder.files.has(name)) return Promise.resolve(undefined);
    let pending = this.cache.get(name);
    if (!pending) {
      pending = readRunJson(this.folder, name);
      this.cache.set(name, pending);
    }
    return pending;
  }
}
