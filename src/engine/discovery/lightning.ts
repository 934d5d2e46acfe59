/**
 * PyTorch Lightning runs (`<save_dir>/<name>/version_N/`, the folder named anything): recognised
 * by their content, `hparams.yaml` and `metrics.csv` (CSVLogger) or `events.out.tfevents.*`
 * (TensorBoardLogger), next to an exported `model.onnx` or a `checkpoints/` folder of `.ckpt`
 * files. An exported model holds the weights at the end of training, so its accuracy is the
 * latest logged value; a checkpoint's accuracy is the one that belongs to it (lightningCheckpoint.ts).
 */
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { isEventFile, readTensorBoardRun } from '../trackers/tensorboardRun';
import { findHeldoutKey, heldoutKeys } from './heldoutKeys';
import { CHECKPOINTS_DIR, chooseLightningCheckpoint } from './lightningCheckpoint';
import type { HParamValue, RunRecord } from './runRecord';
import { MODEL_FILE, checkAccuracyValue, finishRecord, joinId, normaliseHParams, presentFiles, readRunText } from './runFolder';
import { isRecord } from '../../shared/validation';
import type { ReadRunOptions, RunFolder, Score } from './runFolder';

/** CSVLogger's metrics file. */
export const LIGHTNING_METRICS_FILE = 'metrics.csv';
/** CSVLogger's hyperparameter file. */
export const LIGHTNING_HPARAMS_FILE = 'hparams.yaml';

// Aliases multiply work; a hyperparameter file has no business needing many.
const MAX_YAML_ALIASES = 50;

/**
 * True for a folder with Lightning logs (`metrics.csv`, `hparams.yaml` or TensorBoard event files)
 * next to a `model.onnx` or a `checkpoints/` folder.
 */
export function isLightningRun(folder: RunFolder): boolean {
  const logged = folder.files.has(LIGHTNING_METRICS_FILE) || folder.files.has(LIGHTNING_HPARAMS_FILE) || [...folder.files].some(isEventFile);
  return logged && (folder.files.has(MODEL_FILE) || folder.dirs.has(CHECKPOINTS_DIR));
}

/** Options of {@link readLightningRun}. */
export interface LightningReadOptions extends ReadRunOptions {
  signal?: AbortSignal;
}

/**
 * Reads a Lightning run. The model is `model.onnx` when there is one, scored with the latest
 * logged value; else the checkpoint chosen by `chooseLightningCheckpoint`: scored with
 * ModelCheckpoint's `best_model_score` when its monitor is a held-out key, else with the value
 * logged at the checkpoint's step: the `metrics.csv` row at that step (the last row when it is the
 * only checkpoint), else the TensorBoard scalar at its global step. The
 * metric is `options.metric` when given, else the default held-out keys (heldoutKeys.ts). Never
 * throws for bad content (only CANCELLED): a broken run comes back `unscored` or `unreadable`
 * with a reason; an unparsable `hparams.yaml` only leaves `hparams` empty (with a warning).
 */
export async function readLightningRun(folder: RunFolder, options: LightningReadOptions = {}): Promise<RunRecord> {
  const eventFiles = [...folder.files].filter(isEventFile).sort();
  const files = presentFiles(folder, [LIGHTNING_HPARAMS_FILE, LIGHTNING_METRICS_FILE, MODEL_FILE, ...eventFiles]);
  const yaml = folder.files.has(LIGHTNING_HPARAMS_FILE) ? await readHParamsYaml(folder) : { hparams: {} };
  const { hparams } = yaml;
  const warnings = yaml.warning ? [yaml.warning] : [];
  const base = { folder, layout: 'lightning' as const, hparams, warnings };
  if (folder.files.has(MODEL_FILE)) {
    const modelPath = path.join(folder.dir, MODEL_FILE);
    const score = await scoreLogged(folder, options, {}, warnings, undefined);
    return finishRecord({ ...base, modelPath, files, score });
  }
  const chosen = await chooseLightningCheckpoint(folder);
  warnings.push(...chosen.warnings);
  if (!chosen.ok) {
    return finishRecord({ ...base, modelPath: folder.dir, files, score: { ok: false, reason: chosen.reason }, unreadable: chosen.reason });
  }
  const { file, callback } = chosen;
  files.push(file);
  const weights = { file, format: 'torch' as const };
  const keys = heldoutKeys(options.metric);
  let score: Score;
  if (callback?.monitor !== undefined && callback.score !== undefined && keys.includes(callback.monitor)) {
    const label = `${callback.monitor} (ModelCheckpoint best_model_score)`;
    score = checkAccuracyValue(callback.score, joinId(folder.id, path.relative(folder.dir, callback.file).split(path.sep).join('/')), callback.monitor, label);
  } else {
    // The only checkpoint is the last state: the last metrics.csv row is its own. Steps are matched
    // alone (epoch numbering at a save differs between Lightning versions).
    const csvAt = chosen.count === 1 ? {} : chosen.step !== undefined ? { step: chosen.step } : { epoch: chosen.epoch };
    score = await scoreLogged(folder, options, csvAt, warnings, chosen.step);
  }
  return finishRecord({ ...base, modelPath: file, weights, files, score, ...(chosen.problem ? { unreadable: chosen.problem } : {}) });
}

/**
 * The held-out value of `metrics.csv` at `csvAt` (`{}`: the latest row) when the folder has one,
 * else the TensorBoard scalar at `step` (undefined: the last one logged).
 */
async function scoreLogged(folder: RunFolder, options: LightningReadOptions, csvAt: CsvPosition, warnings: string[], step: number | undefined): Promise<Score> {
  if (folder.files.has(LIGHTNING_METRICS_FILE)) {
    const rel = joinId(folder.id, LIGHTNING_METRICS_FILE);
    const text = await readRunText(folder, LIGHTNING_METRICS_FILE);
    return text.ok ? scoreMetricsCsv(text.value, rel, options.metric, csvAt) : text;
  }
  if ([...folder.files].some(isEventFile)) {
    const tb = await readTensorBoardRun(folder, { metric: options.metric, signal: options.signal, ...(step !== undefined && { step }) });
    warnings.push(...tb.warnings);
    if (tb.heldout !== undefined && tb.metricsSource) return { ok: true, value: tb.heldout, source: { file: tb.metricsSource.file, field: tb.metricsSource.field } };
    return { ok: false, reason: tb.heldoutReason ?? `${joinId(folder.id, '')}: no held-out value in the event files` };
  }
  return { ok: false, reason: `${joinId(folder.id, '')}: no metrics file (${LIGHTNING_METRICS_FILE} or TensorBoard events)` };
}

/** Which `metrics.csv` row to read: the one at this epoch and/or step; neither: the latest. */
export interface CsvPosition {
  epoch?: number;
  step?: number;
}

/**
 * Finds the accuracy in a Lightning `metrics.csv`. Without `at`: the metric of the row with the
 * highest (epoch, step) among rows that have one (later rows win ties); without epoch/step
 * columns, the last such row. With `at`: the last row with a value at that epoch and step (a
 * checkpoint's). `rel` names the file in reasons.
 */
export function scoreMetricsCsv(text: string, rel: string, metric?: string, at: CsvPosition = {}): Score {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    return { ok: false, reason: `${rel}: ${(err as Error).message}` };
  }
  const header = rows[0];
  if (!header || header.every((h) => h === '')) return { ok: false, reason: `${rel}: empty file (no header row)` };
  const candidates = heldoutKeys(metric);
  const field = findHeldoutKey((name) => header.includes(name), metric);
  if (field === undefined) {
    // Column names are file content: listed only when they look like metric names.
    const names = header.length <= 40 && header.every((h) => /^[\w./-]{1,64}$/.test(h)) ? `columns: ${header.join(', ')}` : `${header.length} columns`;
    return { ok: false, reason: `${rel}: no column ${candidates.join(' or ')} (${names})` };
  }
  const col = header.indexOf(field);
  const epochCol = header.indexOf('epoch');
  const stepCol = header.indexOf('step');
  const pinned = at.epoch !== undefined || at.step !== undefined;
  let best: { row: number; epoch: number; step: number; cell: string } | undefined;
  for (let r = 1; r < rows.length; r++) {
    const cell = (rows[r][col] ?? '').trim();
    if (cell === '') continue;
    const epoch = numberOr(rows[r][epochCol], -Infinity);
    const step = numberOr(rows[r][stepCol], -Infinity);
    if (pinned) {
      if ((at.epoch === undefined || at.epoch === epoch) && (at.step === undefined || at.step === step)) best = { row: r, epoch, step, cell };
    } else if (!best || epoch > best.epoch || (epoch === best.epoch && step >= best.step)) best = { row: r, epoch, step, cell };
  }
  if (!best) {
    const where = [at.epoch !== undefined && `epoch ${at.epoch}`, at.step !== undefined && `step ${at.step}`].filter(Boolean).join(', ');
    return { ok: false, reason: `${rel}: no row has a ${field} value${pinned ? ` at ${where} (the checkpoint's)` : ''}` };
  }
  // CSV cells are text: Python writes "nan"/"inf", which are reported, not parsed loosely.
  const value = parseCsvNumber(best.cell);
  return checkAccuracyValue(value ?? best.cell, rel, field, `${field} (row ${best.row + 1})`);
}

function numberOr(cell: string | undefined, fallback: number): number {
  const n = cell === undefined ? undefined : parseCsvNumber(cell.trim());
  return n === undefined || Number.isNaN(n) ? fallback : n;
}

/** Parses a numeric CSV cell, including Python's `nan`, `inf`, `-inf`; `undefined` if not a number. */
export function parseCsvNumber(cell: string): number | undefined {
  const lower = cell.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === 'inf' || lower === 'infinity' || lower === '+inf') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cell)) return undefined;
  return Number(cell);
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally double-quoted (`""` escapes a quote, quoted
 * fields may span lines), CRLF or LF line ends. Blank lines are skipped. Throws on an unclosed
 * quote.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  const endRow = (): void => {
    row.push(field);
    if (!(row.length === 1 && row[0] === '' && !fieldStarted)) rows.push(row);
    row = [];
    field = '';
    fieldStarted = false;
  };
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') {
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n') endRow();
    else if (c === '\r') {
      if (text[i + 1] === '\n') i++;
      endRow();
    } else field += c;
  }
  if (quoted) throw new Error('unclosed quote in CSV');
  if (field !== '' || row.length > 0 || fieldStarted) endRow();
  return rows;
}

/**
 * Reads `hparams.yaml` safely: YAML 1.2 core schema, no custom tags (Python object tags are
 * ignored, their plain values kept), unique keys, few aliases. Unreadable or invalid -> `{}` and
 * a warning naming the file.
 */
async function readHParamsYaml(folder: RunFolder): Promise<{ hparams: Record<string, HParamValue>; warning?: string }> {
  const rel = joinId(folder.id, LIGHTNING_HPARAMS_FILE);
  const text = await readRunText(folder, LIGHTNING_HPARAMS_FILE);
  if (!text.ok) return { hparams: {}, warning: text.reason };
  const parsed = parseHParamsYaml(text.value);
  return parsed ? { hparams: parsed } : { hparams: {}, warning: `${rel}: not a safe YAML mapping (invalid YAML, duplicate keys or too many aliases); hyperparameters not read` };
}

/** Parses hyperparameter YAML safely (see {@link readLightningRun}); `undefined` if invalid. */
export function parseHParamsYaml(text: string): Record<string, HParamValue> | undefined {
  try {
    // parseDocument rather than parse: warnings (e.g. unresolved Python tags) stay in the document
    // instead of going to process.emitWarning.
    const doc = parseDocument(text, { schema: 'core', customTags: [], uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) return undefined;
    const value: unknown = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    return isRecord(value) ? normaliseHParams(value) : undefined;
  } catch {
    return undefined;
  }
}
