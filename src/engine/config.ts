import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from './errors';
import { readSmallTextFileSync } from './formats/readInput';
import { echoValue, jsonSyntaxProblem, MAX_JSON_DEPTH, nestedDeeperThan } from './untrustedJson';
import { isRecord } from '../shared/validation';
import type { PreprocessingSpec } from './datasets/preprocessing';
import { parsePreprocessing } from './datasets/preprocessing';
import { ANALYSIS_IDS } from './analyses/settings';
import type { AnalysisId } from './analyses/types';

/** The file name the engine looks for at the workspace root. */
export const CONFIG_FILE = 'modelsoups.json';

/** How greedy soup compares a candidate soup's held-out accuracy with the best so far. */
export type GreedyComparison = '>=' | '>';

/**
 * Where one evaluation dataset's data is: an `.npz` holding arrays `x` and `y`, an image folder
 * (`<root>/<class>/<image>`), or two `.npy` files. Paths are relative to the workspace (as
 * written in the config).
 */
export type DatasetSource = string | { x: string; y: string };

/** A dataset given as an object: its path plus per-set settings. */
export interface DatasetOptions {
  path: string;
  /** Score among the classes present only (default: on for folders, off for array files). */
  subset?: boolean;
  /** Folders only: merged over the top-level `preprocessing`. */
  preprocessing?: PreprocessingSpec;
}

/** `analyses` in modelsoups.json. */
export interface AnalysesConfig {
  /** The analyses to run (`[]` for none). */
  run?: AnalysisId[];
  /** Cap of 2-ingredient soups evaluated for the angle-vs-gain scatter. */
  maxPairs?: number;
  /** Held-out evaluations the learned soup may use. */
  learnedBudget?: number;
}

/** One dataset entry of the config. */
export type DatasetEntry = DatasetSource | DatasetOptions;

/** The evaluation datasets by role. */
export interface DatasetPaths {
  heldout?: DatasetEntry;
  test?: DatasetEntry;
  shifts: Record<string, DatasetEntry>;
}

/** How a dataset is named in reports and messages: its path, or the `x` file. */
export function datasetLabel(src: DatasetEntry): string {
  return typeof src === 'string' ? src : 'path' in src ? src.path : src.x;
}

/**
 * The validated contents of `modelsoups.json` with defaults filled in. Paths are as written
 * (relative to the workspace root) so that reports stay portable; resolve them with
 * {@link resolveInWorkspace}.
 */
export interface SoupConfig {
  datasets: DatasetPaths;
  /** The shared pretrained init: shown apart, never an ingredient. */
  pretrained?: string;
  /**
   * The one ONNX export of the architecture that checkpoint runs (safetensors, torch) are
   * evaluated through; their weights are mapped onto its float initializers.
   */
  graph?: string;
  /** Globs (workspace-relative) a run folder must match to be scanned; empty = all. */
  include: string[];
  /** Globs (workspace-relative) of folders or files to skip. */
  exclude: string[];
  model: {
    /** Graph input to feed the images to (default: the model's only non-weight input). */
    input?: string;
    /** Graph output holding the logits (default: the first output). */
    output?: string;
  };
  /**
   * Multiply `x` by this before inference (e.g. 1/255 for uint8 images). Float inputs default to
   * 1; uint8 inputs require it, so raw pixels are never fed by mistake.
   */
  scale?: number;
  greedy: { comparison: GreedyComparison };
  /** Output folder for soups, relative to the workspace. */
  output: string;
  /** Metric name read from Lightning `metrics.csv` (default: `val_acc`, then `val_accuracy`). */
  metric?: string;
  /** Images per forward pass. */
  batchSize: number;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** onnxruntime execution provider; `cuda` falls back to `cpu` with a warning when unavailable. */
  device: ExecutionDevice;
  /**
   * Absolute folders outside the workspace that discovery may follow symlinks into. Set by the
   * user (CLI flag, VS Code setting), never by `modelsoups.json`: a workspace cannot widen its
   * own confinement.
   */
  allowedRoots?: string[];
  /** Memory budget of one dataset while it loads, in MiB (default 2048); user-set like `allowedRoots`. */
  maxDatasetMB?: number;
  /** Class names in index order for image folders: a list, or a `.json`/`.txt` file. */
  classes?: string[] | string;
  /** Image-folder preprocessing for every folder dataset (a dataset entry can override fields). */
  preprocessing?: PreprocessingSpec;
  /** The soup analyses (issue 11); unset fields take the defaults of `defaultAnalysesSettings`. */
  analyses?: AnalysesConfig;
}

/** Where inference runs. */
export type ExecutionDevice = 'cpu' | 'cuda';

export const DEFAULT_OUTPUT = '.soups';
const DEFAULT_BATCH_SIZE = 500;

/** The config used when a workspace has no `modelsoups.json`: nothing to evaluate on yet. */
export function defaultConfig(): SoupConfig {
  return {
    datasets: { shifts: {} },
    include: [],
    exclude: [],
    model: {},
    greedy: { comparison: '>=' },
    output: DEFAULT_OUTPUT,
    batchSize: DEFAULT_BATCH_SIZE,
    device: 'cpu',
  };
}

const TOP_KEYS = ['$schema', 'datasets', 'pretrained', 'graph', 'include', 'exclude', 'model', 'scale', 'greedy', 'output', 'metric', 'batchSize', 'threads', 'device', 'classes', 'preprocessing', 'analyses'];

/**
 * Reads `<workspace>/modelsoups.json` (or `file` when given). A missing default file gives
 * {@link defaultConfig}; a missing explicit file, an unreadable one, bad JSON, unknown keys or
 * wrong types throw a FILE_NOT_FOUND / READ_FAILED / CONFIG_INVALID {@link SoupError} naming the
 * file and the key.
 */
export function loadConfig(workspace: string, file?: string): SoupConfig {
  const { raw, source } = readRawConfig(workspace, file);
  return resolveConfig(raw, source);
}

/**
 * The parsed JSON of the config file before validation (undefined when the default file does
 * not exist), for callers that override keys (CLI flags, settings) with {@link resolveConfig}.
 */
export function readRawConfig(workspace: string, file?: string): { raw: unknown; source: string } {
  const configPath = file ? path.resolve(workspace, file) : path.join(workspace, CONFIG_FILE);
  if (!existsSync(configPath)) {
    if (file) throw new SoupError('FILE_NOT_FOUND', 'config file not found', configPath);
    return { raw: undefined, source: configPath };
  }
  // Regular files only (a FIFO or /dev/zero would hang or fill memory), of a sane size.
  const text = readSmallTextFileSync(configPath, 'config file', MAX_CONFIG_BYTES);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SoupError('CONFIG_INVALID', jsonSyntaxProblem(err), configPath);
  }
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH)) throw new SoupError('CONFIG_INVALID', `nested deeper than ${MAX_JSON_DEPTH} levels; refused`, configPath);
  return { raw, source: configPath };
}

/** A config file is a few hundred bytes; anything this big is not one. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** A CONFIG_INVALID error about one key of the config; `key` is dotted (`greedy.comparison`). */
export class ConfigKeyError extends SoupError {
  constructor(
    readonly key: string | undefined,
    problem: string,
    file: string,
  ) {
    super('CONFIG_INVALID', problem, file);
  }
}

/** Throws the error of a bad config value; `key` names it (none for the top level). */
type Fail = (problem: string, key?: string) => never;

/**
 * A value from outside `modelsoups.json` that replaces one of its keys for one user or one run:
 * a CLI flag or a VS Code setting.
 */
export interface ConfigOverride {
  /** The dotted key it replaces (`datasets.heldout`, `greedy.comparison`). */
  key: string;
  value: unknown;
  /** Where the value came from, as errors name it (`--heldout`, `setting modelSoups.device`). */
  origin: string;
  /** Add the value's items to the key's list instead of replacing it. */
  append?: boolean;
}

/**
 * The config of `raw` (the parsed file, undefined when there is none) with each override
 * replacing its key, validated once. Every problem throws a {@link ConfigKeyError} naming the
 * key; {@link overrideAt} tells whether it was an override's.
 */
export function resolveConfig(raw: unknown, source: string, overrides: readonly ConfigOverride[] = []): SoupConfig {
  // A file that is not a JSON object gets that error, whatever overrides it.
  if (raw !== undefined && !isRecord(raw)) return parseConfig(raw, source);
  if (overrides.length === 0) return raw === undefined ? defaultConfig() : parseConfig(raw, source);
  const merged: Record<string, unknown> = { ...raw };
  for (const o of overrides) {
    const parts = o.key.split('.');
    let obj = merged;
    for (const part of parts.slice(0, -1)) {
      // Copies, so the caller's raw object is never changed; a non-object is replaced.
      const next = isRecord(obj[part]) ? { ...(obj[part] as Record<string, unknown>) } : {};
      obj[part] = next;
      obj = next;
    }
    const last = parts[parts.length - 1];
    const current = obj[last];
    obj[last] = o.append && Array.isArray(current) && Array.isArray(o.value) ? [...current, ...o.value] : o.value;
  }
  return parseConfig(merged, `${source} (with ${overrides.map((o) => o.origin).join(', ')})`);
}

/** The override that set `err`'s key (or a key inside it), if `err` is about one. */
export function overrideAt(err: unknown, overrides: readonly ConfigOverride[]): ConfigOverride | undefined {
  if (!(err instanceof ConfigKeyError) || err.key === undefined) return undefined;
  const key = err.key;
  return overrides.find((o) => key === o.key || key.startsWith(`${o.key}.`));
}

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseConfig(raw: unknown, source: string): SoupConfig {
  const fail: Fail = (problem, key) => {
    throw new ConfigKeyError(key, problem, source);
  };
  if (!isRecord(raw)) return fail('expected a JSON object at the top level');
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) fail(`unknown key "${key}" (known: ${TOP_KEYS.slice(1).join(', ')})`, key);
  }
  const cfg = defaultConfig();
  if (raw.datasets !== undefined) {
    const d = raw.datasets;
    if (!isRecord(d)) return fail('"datasets" must be an object with heldout, test and shifts', 'datasets');
    for (const key of Object.keys(d)) {
      if (!['heldout', 'test', 'shifts'].includes(key)) fail(`unknown key "datasets.${key}" (known: heldout, test, shifts)`, `datasets.${key}`);
    }
    cfg.datasets.heldout = optDataset(d.heldout, 'datasets.heldout', fail);
    cfg.datasets.test = optDataset(d.test, 'datasets.test', fail);
    if (d.shifts !== undefined) {
      if (!isRecord(d.shifts)) return fail('"datasets.shifts" must map shift names to dataset files', 'datasets.shifts');
      for (const [name, p] of Object.entries(d.shifts)) {
        const key = `datasets.shifts.${name}`;
        if (name === 'heldout' || name === 'test') fail(`"${key}": a shift cannot be named "${name}"`, key);
        cfg.datasets.shifts[name] = optDataset(p, key, fail) ?? fail(`"${key}" must be a file path`, key);
      }
    }
  }
  cfg.pretrained = optString(raw.pretrained, 'pretrained', fail);
  cfg.graph = optString(raw.graph, 'graph', fail);
  cfg.include = optStringArray(raw.include, 'include', fail) ?? [];
  cfg.exclude = optStringArray(raw.exclude, 'exclude', fail) ?? [];
  if (raw.model !== undefined) {
    if (!isRecord(raw.model)) return fail('"model" must be an object with input and output names', 'model');
    for (const key of Object.keys(raw.model)) {
      if (!['input', 'output'].includes(key)) fail(`unknown key "model.${key}" (known: input, output)`, `model.${key}`);
    }
    cfg.model.input = optString(raw.model.input, 'model.input', fail);
    cfg.model.output = optString(raw.model.output, 'model.output', fail);
  }
  if (raw.scale !== undefined) cfg.scale = positiveNumber(raw.scale, 'scale', fail);
  if (raw.greedy !== undefined) {
    if (!isRecord(raw.greedy)) return fail('"greedy" must be an object like {"comparison": ">="}', 'greedy');
    for (const key of Object.keys(raw.greedy)) {
      if (key !== 'comparison') fail(`unknown key "greedy.${key}" (known: comparison)`, `greedy.${key}`);
    }
    if (raw.greedy.comparison !== undefined) cfg.greedy.comparison = parseComparison(raw.greedy.comparison, fail);
  }
  const out = optString(raw.output, 'output', fail);
  if (out !== undefined) cfg.output = out;
  cfg.metric = optString(raw.metric, 'metric', fail);
  if (raw.batchSize !== undefined) cfg.batchSize = positiveInteger(raw.batchSize, 'batchSize', fail);
  if (raw.threads !== undefined) cfg.threads = positiveInteger(raw.threads, 'threads', fail);
  if (raw.device !== undefined) cfg.device = parseDevice(raw.device, fail);
  if (raw.classes !== undefined) {
    const c = raw.classes;
    const ok = (typeof c === 'string' && c !== '') || (Array.isArray(c) && c.length > 0 && c.every((s) => typeof s === 'string' && s !== '') && new Set(c).size === c.length);
    if (!ok) fail(`"classes" must be a list of distinct class names in index order or a .json/.txt file, got ${JSON.stringify(c)}`);
    cfg.classes = c as string[] | string;
  }
  if (raw.preprocessing !== undefined) cfg.preprocessing = parsePreprocessing(raw.preprocessing, 'preprocessing', fail);
  if (raw.analyses !== undefined) cfg.analyses = parseAnalysesConfig(raw.analyses, fail);
  return cfg;
}

function parseAnalysesConfig(value: unknown, fail: Fail): AnalysesConfig {
  if (!isRecord(value)) return fail('"analyses" must be an object like {"run": ["calibration"], "maxPairs": 28, "learnedBudget": 200}', 'analyses');
  for (const key of Object.keys(value)) {
    if (!['run', 'maxPairs', 'learnedBudget'].includes(key)) fail(`unknown key "analyses.${key}" (known: run, maxPairs, learnedBudget)`, `analyses.${key}`);
  }
  const out: AnalysesConfig = {};
  if (value.run !== undefined) {
    const run = value.run;
    if (!Array.isArray(run) || run.some((id) => typeof id !== 'string' || !(ANALYSIS_IDS as readonly string[]).includes(id))) {
      fail(`"analyses.run" must be a list of analyses among ${ANALYSIS_IDS.join(', ')}, got ${echoValue(run)}`, 'analyses.run');
    }
    out.run = ANALYSIS_IDS.filter((id) => (run as string[]).includes(id));
  }
  if (value.maxPairs !== undefined) out.maxPairs = positiveInteger(value.maxPairs, 'analyses.maxPairs', fail);
  if (value.learnedBudget !== undefined) out.learnedBudget = positiveInteger(value.learnedBudget, 'analyses.learnedBudget', fail);
  return out;
}

function parseComparison(value: unknown, fail: Fail): GreedyComparison {
  if (value === '>=' || value === '>') return value;
  return fail(`"greedy.comparison" must be ">=" (paper) or ">" (official code), got ${echoValue(value)}`, 'greedy.comparison');
}

function parseDevice(value: unknown, fail: Fail): ExecutionDevice {
  if (value === 'cpu' || value === 'cuda') return value;
  return fail(`"device" must be "cpu" or "cuda", got ${echoValue(value)}`, 'device');
}

/** Resolves a workspace-relative path from the config to an absolute one. */
export function resolveInWorkspace(workspace: string, p: string): string {
  return path.resolve(workspace, p);
}

/**
 * The value at a dotted `modelsoups.json` key of a config (`greedy.comparison`), or undefined:
 * how the cook reads the options a soup method declares.
 */
export function configValueAt(config: SoupConfig, key: string): unknown {
  let v: unknown = config;
  for (const part of key.split('.')) v = isRecord(v) ? v[part] : undefined;
  return v;
}

function optString(v: unknown, key: string, fail: Fail): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') return fail(`"${key}" must be a non-empty string, got ${echoValue(v)}`, key);
  return v;
}

function optDataset(v: unknown, key: string, fail: Fail): DatasetEntry | undefined {
  if (v === undefined || typeof v === 'string') return optString(v, key, fail);
  if (isRecord(v) && typeof v.x === 'string' && typeof v.y === 'string' && Object.keys(v).length === 2 && v.x && v.y) return { x: v.x, y: v.y };
  if (isRecord(v) && 'path' in v) {
    for (const k of Object.keys(v)) if (!['path', 'subset', 'preprocessing'].includes(k)) fail(`unknown key "${key}.${k}" (known: path, subset, preprocessing)`, `${key}.${k}`);
    const entry: DatasetOptions = { path: optString(v.path, `${key}.path`, fail) as string };
    if (v.subset !== undefined) entry.subset = typeof v.subset === 'boolean' ? v.subset : fail(`"${key}.subset" must be true or false, got ${echoValue(v.subset)}`, `${key}.subset`);
    if (v.preprocessing !== undefined) entry.preprocessing = parsePreprocessing(v.preprocessing, `${key}.preprocessing`, fail);
    return entry;
  }
  return fail(`"${key}" must be an .npz file path or {"x": "<x>.npy", "y": "<y>.npy"}, got ${echoValue(v)} (or an image folder path, or {"path": ..., "subset": ..., "preprocessing": ...})`, key);
}

function optStringArray(v: unknown, key: string, fail: Fail): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) return fail(`"${key}" must be an array of glob strings`, key);
  return v as string[];
}

function positiveNumber(v: unknown, key: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`"${key}" must be a positive number, got ${echoValue(v)}`, key);
  return v;
}

function positiveInteger(v: unknown, key: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return fail(`"${key}" must be a positive integer, got ${echoValue(v)}`, key);
  return v;
}
