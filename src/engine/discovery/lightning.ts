/**
 * PyTorch Lightning CSVLogger runs (`lightning_logs/version_N/`): `hparams.yaml`, `metrics.csv`
 * and the exported `model.onnx`. The model holds the weights at the end of training, so its
 * accuracy is the validation metric of the latest logged row that has one.
 */
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { HParamValue, RunRecord } from './runRecord';
import {
  MODEL_FILE, checkAccuracyValue, finishRecord, isRecord, joinId, normaliseHParams, presentFiles, readRunText,
} from './plainRun';
import type { ReadRunOptions, RunFolder, Score } from './plainRun';

/** CSVLogger's metrics file. */
export const LIGHTNING_METRICS_FILE = 'metrics.csv';
/** CSVLogger's hyperparameter file. */
export const LIGHTNING_HPARAMS_FILE = 'hparams.yaml';
/** Metric columns tried, in order, when no metric name is configured. */
export const DEFAULT_LIGHTNING_METRICS = ['val_acc', 'val_accuracy'] as const;

// Aliases multiply work; a hyperparameter file has no business needing many.
const MAX_YAML_ALIASES = 50;

/** True for a folder with `model.onnx` and a Lightning `metrics.csv` or `hparams.yaml`. */
export function isLightningRun(folder: RunFolder): boolean {
  return folder.files.has(MODEL_FILE) && (folder.files.has(LIGHTNING_METRICS_FILE) || folder.files.has(LIGHTNING_HPARAMS_FILE));
}

/**
 * Reads a Lightning run. The accuracy column is `options.metric` when given, else `val_acc`, else
 * `val_accuracy`. Never throws: a broken run comes back `unscored` (or `unreadable`) with a reason.
 * An unparsable `hparams.yaml` only leaves `hparams` empty (with a warning): it does not change the score.
 */
export async function readLightningRun(folder: RunFolder, options: ReadRunOptions = {}): Promise<RunRecord> {
  const modelPath = path.join(folder.dir, MODEL_FILE);
  const files = presentFiles(folder, [LIGHTNING_HPARAMS_FILE, LIGHTNING_METRICS_FILE, MODEL_FILE]);
  const yaml = folder.files.has(LIGHTNING_HPARAMS_FILE) ? await readHParamsYaml(folder) : { hparams: {} };
  const { hparams } = yaml;
  let score: Score;
  if (folder.files.has(LIGHTNING_METRICS_FILE)) {
    const rel = joinId(folder.id, LIGHTNING_METRICS_FILE);
    const text = await readRunText(folder, LIGHTNING_METRICS_FILE);
    score = text.ok ? scoreMetricsCsv(text.value, rel, options.metric) : text;
  } else {
    score = { ok: false, reason: `${joinId(folder.id, '')}: no metrics file (${LIGHTNING_METRICS_FILE})` };
  }
  return finishRecord({ folder, layout: 'lightning', modelPath, files, hparams, score, warnings: yaml.warning ? [yaml.warning] : undefined });
}

/**
 * Finds the accuracy in a Lightning `metrics.csv`: the metric of the row with the highest
 * (epoch, step) among rows that have one (later rows win ties); without epoch/step columns,
 * the last such row. `rel` names the file in reasons.
 */
export function scoreMetricsCsv(text: string, rel: string, metric?: string): Score {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    return { ok: false, reason: `${rel}: ${(err as Error).message}` };
  }
  const header = rows[0];
  if (!header || header.every((h) => h === '')) return { ok: false, reason: `${rel}: empty file (no header row)` };
  const candidates = metric ? [metric] : [...DEFAULT_LIGHTNING_METRICS];
  const field = candidates.find((name) => header.includes(name));
  if (field === undefined) {
    // Column names are file content: listed only when they look like metric names.
    const names = header.length <= 40 && header.every((h) => /^[\w./-]{1,64}$/.test(h)) ? `columns: ${header.join(', ')}` : `${header.length} columns`;
    return { ok: false, reason: `${rel}: no column ${candidates.join(' or ')} (${names})` };
  }
  const col = header.indexOf(field);
  const epochCol = header.indexOf('epoch');
  const stepCol = header.indexOf('step');
  let best: { row: number; epoch: number; step: number; cell: string } | undefined;
  for (let r = 1; r < rows.length; r++) {
    const cell = (rows[r][col] ?? '').trim();
    if (cell === '') continue;
    const epoch = numberOr(rows[r][epochCol], -Infinity);
    const step = numberOr(rows[r][stepCol], -Infinity);
    if (!best || epoch > best.epoch || (epoch === best.epoch && step >= best.step)) best = { row: r, epoch, step, cell };
  }
  if (!best) return { ok: false, reason: `${rel}: no row has a ${field} value` };
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
