import type { CookPlan, CookProgress } from '../engine/cookPlan';
import type { SoupErrorCode } from '../engine/errors';
import type { SoupReport } from '../engine/report';
import type { RecookRequest } from '../engine/recook';
import { isCount, isRecord, isStringArray, looksLikeReport, type Parsed } from './validation';

// Messages between the extension host (parent) and the forked cook worker (child), sent over
// the Node IPC channel of `child_process.fork`. Both sides validate what they receive: the
// channel is a process boundary, so a malformed message is logged and dropped, never trusted.

/** Parent -> worker: cook this plan. Sent once, right after the worker starts. */
export interface CookRequest {
  type: 'cook';
  plan: CookPlan;
}

/** Parent -> worker: re-cook the soup of a report.json (checked, then cooked like `cook`). Sent instead of `cook`. */
export interface RecookJobRequest {
  type: 'recook';
  request: RecookRequest;
}

/** Parent -> worker: stop the running cook; the worker answers with `cancelled` and exits. */
export interface CancelRequest {
  type: 'cancel';
}

/** Everything the worker accepts. */
export type ToWorker = CookRequest | RecookJobRequest | CancelRequest;

/** Worker -> parent: a progress step of the cook, forwarded from the engine's `onProgress`. */
export interface ProgressMessage {
  type: 'progress';
  progress: CookProgress;
}

/** Worker -> parent: the cook finished; `dir` is the absolute soup folder (soup.onnx, report.json). */
export interface DoneMessage {
  type: 'done';
  report: SoupReport;
  dir: string;
}

/** Worker -> parent: the cook stopped because it was asked to; nothing was written. */
export interface CancelledMessage {
  type: 'cancelled';
}

/**
 * Worker -> parent: the cook failed. `code` is the engine's SoupError code when the failure was
 * one the engine knows (`INTERNAL` otherwise), `file` the file it names, if any.
 */
export interface FailedMessage {
  type: 'failed';
  code: SoupErrorCode | 'INTERNAL';
  message: string;
  file?: string;
}

/** Everything the worker sends. */
export type FromWorker = ProgressMessage | DoneMessage | CancelledMessage | FailedMessage;

/** Validates a message received by the worker. */
export function parseToWorker(raw: unknown): Parsed<ToWorker> {
  if (!isRecord(raw)) return bad('not an object');
  switch (raw.type) {
    case 'cook': {
      const plan = raw.plan;
      if (!isRecord(plan)) return bad('cook: "plan" is not an object');
      if (typeof plan.workspace !== 'string' || plan.workspace === '') return bad('cook: "plan.workspace" must be a path');
      if (typeof plan.method !== 'string' || plan.method === '') return bad('cook: "plan.method" must be a method id');
      if (!isRecord(plan.config)) return bad('cook: "plan.config" is not an object');
      if (plan.ingredients !== undefined && !isStringArray(plan.ingredients)) return bad('cook: "plan.ingredients" must be run ids');
      if (plan.name !== undefined && typeof plan.name !== 'string') return bad('cook: "plan.name" must be a string');
      if (plan.outDir !== undefined && typeof plan.outDir !== 'string') return bad('cook: "plan.outDir" must be a string');
      return { ok: true, message: { type: 'cook', plan: plan as unknown as CookPlan } };
    }
    case 'recook': {
      const r = raw.request;
      if (!isRecord(r)) return bad('recook: "request" is not an object');
      if (typeof r.report !== 'string' || r.report === '') return bad('recook: "request.report" must be a path');
      if (r.name !== undefined && typeof r.name !== 'string') return bad('recook: "request.name" must be a string');
      if (r.outDir !== undefined && typeof r.outDir !== 'string') return bad('recook: "request.outDir" must be a string');
      if (r.allowChanged !== undefined && typeof r.allowChanged !== 'boolean') return bad('recook: "request.allowChanged" must be a boolean');
      const limits = r.limits;
      if (limits !== undefined && (!isRecord(limits) || (limits.allowedRoots !== undefined && !isStringArray(limits.allowedRoots)) || (limits.maxDatasetMB !== undefined && typeof limits.maxDatasetMB !== 'number'))) {
        return bad('recook: "request.limits" must hold allowedRoots (paths) and maxDatasetMB (a number)');
      }
      return { ok: true, message: { type: 'recook', request: r as unknown as RecookRequest } };
    }
    case 'cancel':
      return { ok: true, message: { type: 'cancel' } };
    default:
      return bad(`unknown message type ${JSON.stringify(raw.type)}`);
  }
}

/** Validates a message received from the worker. */
export function parseFromWorker(raw: unknown): Parsed<FromWorker> {
  if (!isRecord(raw)) return bad('not an object');
  switch (raw.type) {
    case 'progress': {
      const p = raw.progress;
      if (!isRecord(p)) return bad('progress: "progress" is not an object');
      if (typeof p.phase !== 'string' || typeof p.message !== 'string') return bad('progress: needs "phase" and "message"');
      if (!isCount(p.done) || !isCount(p.total)) return bad('progress: "done" and "total" must be counts');
      return { ok: true, message: { type: 'progress', progress: p as unknown as CookProgress } };
    }
    case 'done': {
      if (typeof raw.dir !== 'string' || raw.dir === '') return bad('done: "dir" must be a path');
      if (!looksLikeReport(raw.report)) return bad('done: "report" is not a soup report');
      return { ok: true, message: { type: 'done', report: raw.report, dir: raw.dir } };
    }
    case 'cancelled':
      return { ok: true, message: { type: 'cancelled' } };
    case 'failed': {
      if (typeof raw.code !== 'string' || typeof raw.message !== 'string') return bad('failed: needs "code" and "message"');
      if (raw.file !== undefined && typeof raw.file !== 'string') return bad('failed: "file" must be a string');
      const code = raw.code as FailedMessage['code'];
      return { ok: true, message: { type: 'failed', code, message: raw.message, ...(raw.file !== undefined ? { file: raw.file as string } : {}) } };
    }
    default:
      return bad(`unknown message type ${JSON.stringify(raw.type)}`);
  }
}


function bad<T>(problem: string): Parsed<T> {
  return { ok: false, problem };
}
