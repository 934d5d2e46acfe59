import { READABLE_REPORT_SCHEMAS, REPORT_SCHEMA, type SoupReport } from '../engine/report';

// Structural checks shared by the engine's readers and the protocol validators (host, worker
// and webview): everything read from a file or received across a process or iframe boundary is
// `unknown` until one of these says otherwise.

/** The result of validating an incoming message: the message, or why it was dropped. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; problem: string };

/**
 * Why `raw` is not a report this version can show, or undefined when it is one: the schema tag
 * and everything a viewer reads (the deep schema belongs to the engine's report writer). The
 * one check of a report, wherever it comes from (report.json, the worker, the host).
 */
export function reportProblem(raw: unknown): string | undefined {
  if (!isRecord(raw)) return 'expected a JSON object';
  if (typeof raw.schema !== 'string' || !READABLE_REPORT_SCHEMAS.includes(raw.schema)) return `schema is ${JSON.stringify(raw.schema)}, expected "${REPORT_SCHEMA}"`;
  if (typeof raw.method !== 'string') return '"method" is missing';
  if (typeof raw.name !== 'string') return '"name" is missing';
  if (typeof raw.createdAt !== 'string') return '"createdAt" is missing';
  if (!Array.isArray(raw.ingredients) || !Array.isArray(raw.steps) || !isStringArray(raw.shiftNames)) return '"ingredients", "steps" or "shiftNames" is missing';
  const soup = raw.soup;
  if (!isRecord(soup) || !isStringArray(soup.members) || !isMetrics(soup.metrics)) return '"soup" lacks members or metrics';
  const baselines = raw.baselines;
  if (!isRecord(baselines)) return '"baselines" is missing';
  for (const key of ['bestIndividual', 'uniform', 'ensemble']) {
    const b = baselines[key];
    if (!isRecord(b) || !isStringArray(b.members) || !isMetrics(b.metrics)) return `"baselines.${key}" lacks members or metrics`;
  }
  if (raw.analyses !== undefined && (!isRecord(raw.analyses) || !Array.isArray(raw.analyses.skipped))) return '"analyses" is not an object with a "skipped" list';
  return undefined;
}

/** True when {@link reportProblem} finds none. */
export function looksLikeReport(raw: unknown): raw is SoupReport {
  return reportProblem(raw) === undefined;
}

/** A `Metrics`-shaped object: at least a `shifts` map of numbers. */
function isMetrics(raw: unknown): boolean {
  if (!isRecord(raw) || !isRecord(raw.shifts)) return false;
  return Object.values(raw.shifts).every((v) => typeof v === 'number');
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An array of strings. */
export function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** A non-negative integer. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}
