import type { SoupReport } from '../engine/report';
import { isCount, isRecord, isStringArray, looksLikeReport, type Parsed } from './validation';

// Messages between the compare panel's host side (src/extension/comparePanel.ts) and its browser
// side (webview/compareView.ts). As with the results panel, the host posts nothing until the
// webview says `ready`.

/** One of the two soups as the host sends it. */
export interface CompareSide {
  /** Absolute soup folder. */
  soupDir: string;
  /** The soup method's label (`Greedy soup`). */
  methodLabel: string;
  report: SoupReport;
}

/** Host -> webview: the two soups to compare; every difference shown is B − A. */
export interface CompareInitMessage {
  type: 'init';
  a: CompareSide;
  b: CompareSide;
}

/** Host -> webview: a report could not be read; `message` names the file and the problem. */
export interface CompareLoadErrorMessage {
  type: 'loadError';
  soupDirs: [string, string];
  message: string;
}

/** Everything the host posts to the compare webview. */
export type HostToCompare = CompareInitMessage | CompareLoadErrorMessage;

/** Webview -> host: the script is listening; the host may post now. */
export interface CompareReadyMessage {
  type: 'ready';
}

/**
 * Webview -> host: the comparison was drawn. The texts are read back from the page (its
 * `textContent`), so tests see what a reader sees.
 */
export interface CompareRenderedMessage {
  type: 'rendered';
  /** The dataset table's rows, each as its cells' texts (header row first). */
  table: string[][];
  /** The warnings shown above the table. */
  warnings: string[];
  /** Members: common, only in A, only in B, as shown. */
  members: string[];
  /** Rows of the calibration table (header first); empty when it is not shown. */
  calibration: string[][];
  /** Charts drawn (behind their toggle). */
  charts: number;
}

/** Webview -> host: swap soups A and B. */
export interface CompareSwapMessage {
  type: 'swap';
}

/** Webview -> host: open soup A's or B's results panel. */
export interface CompareShowResultsMessage {
  type: 'showResults';
  side: 'a' | 'b';
}

/** Everything the compare webview posts to the host. */
export type CompareToHost = CompareReadyMessage | CompareRenderedMessage | CompareSwapMessage | CompareShowResultsMessage;

/** What the compare webview persists with `setState`, so the panel comes back after a reload. */
export interface ComparePanelState {
  soupDirs: [string, string];
}

/** Validates a message received by the host from the compare webview. */
export function parseCompareToHost(raw: unknown): Parsed<CompareToHost> {
  if (!isRecord(raw)) return { ok: false, problem: 'not an object' };
  switch (raw.type) {
    case 'ready':
    case 'swap':
      return { ok: true, message: { type: raw.type } };
    case 'showResults':
      if (raw.side !== 'a' && raw.side !== 'b') return { ok: false, problem: 'showResults: "side" must be "a" or "b"' };
      return { ok: true, message: { type: 'showResults', side: raw.side } };
    case 'rendered':
      if (!isTable(raw.table) || !isTable(raw.calibration)) return { ok: false, problem: 'rendered: "table" and "calibration" must be rows of strings' };
      if (!isStringArray(raw.warnings) || !isStringArray(raw.members)) return { ok: false, problem: 'rendered: "warnings" and "members" must be strings' };
      if (!isCount(raw.charts)) return { ok: false, problem: 'rendered: "charts" must be a count' };
      return { ok: true, message: { type: 'rendered', table: raw.table, warnings: raw.warnings, members: raw.members, calibration: raw.calibration, charts: raw.charts } };
    default:
      return { ok: false, problem: `unknown message type ${JSON.stringify(raw.type)}` };
  }
}

/** Validates a message received by the compare webview from the host. */
export function parseHostToCompare(raw: unknown): Parsed<HostToCompare> {
  if (!isRecord(raw)) return { ok: false, problem: 'not an object' };
  switch (raw.type) {
    case 'init': {
      const a = compareSide(raw.a);
      const b = compareSide(raw.b);
      if (!a || !b) return { ok: false, problem: 'init: "a" and "b" need "soupDir", "methodLabel" and a soup "report"' };
      return { ok: true, message: { type: 'init', a, b } };
    }
    case 'loadError': {
      const dirs = soupDirPair(raw.soupDirs);
      if (!dirs || typeof raw.message !== 'string') return { ok: false, problem: 'loadError: needs two "soupDirs" and "message"' };
      return { ok: true, message: { type: 'loadError', soupDirs: dirs, message: raw.message } };
    }
    default:
      return { ok: false, problem: `unknown message type ${JSON.stringify(raw.type)}` };
  }
}

/** Validates the state the compare webview saved, as handed back by the panel serializer. */
export function parseComparePanelState(raw: unknown): ComparePanelState | undefined {
  const dirs = isRecord(raw) ? soupDirPair(raw.soupDirs) : undefined;
  return dirs ? { soupDirs: dirs } : undefined;
}

function compareSide(raw: unknown): CompareSide | undefined {
  if (!isRecord(raw) || typeof raw.soupDir !== 'string' || typeof raw.methodLabel !== 'string' || !looksLikeReport(raw.report)) return undefined;
  return { soupDir: raw.soupDir, methodLabel: raw.methodLabel, report: raw.report };
}

function soupDirPair(raw: unknown): [string, string] | undefined {
  return isStringArray(raw) && raw.length === 2 && raw.every((d) => d !== '') ? [raw[0], raw[1]] : undefined;
}

function isTable(raw: unknown): raw is string[][] {
  return Array.isArray(raw) && raw.every(isStringArray);
}
