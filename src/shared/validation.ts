import type { SoupReport } from '../engine/report';

// Structural checks shared by the protocol validators (host, worker and webview): everything
// that crosses a process or iframe boundary is `unknown` until one of these says otherwise.

/** The result of validating an incoming message: the message, or why it was dropped. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; problem: string };

/**
 * A shallow structural check of a report: enough for the receiver to render it without
 * crashing (the deep schema belongs to the engine's report writer).
 */
export function looksLikeReport(raw: unknown): raw is SoupReport {
  if (!isRecord(raw)) return false;
  if (typeof raw.schema !== 'string' || typeof raw.method !== 'string' || typeof raw.name !== 'string') return false;
  if (!Array.isArray(raw.ingredients) || !Array.isArray(raw.steps) || !isStringArray(raw.shiftNames)) return false;
  const soup = raw.soup;
  if (!isRecord(soup) || !isStringArray(soup.members) || !isMetrics(soup.metrics)) return false;
  const b = raw.baselines;
  if (!isRecord(b)) return false;
  return ['bestIndividual', 'uniform', 'ensemble'].every((k) => {
    const base = b[k];
    return isRecord(base) && isStringArray(base.members) && isMetrics(base.metrics);
  });
}

/** A `Metrics`-shaped object: at least a `shifts` map of numbers. */
export function isMetrics(raw: unknown): boolean {
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
