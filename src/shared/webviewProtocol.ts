import type { SoupReport } from '../engine/report';
import type { SoupMethodDescriptor } from '../engine/soups/catalogue';

/** The report schema the panel renders, re-exported so browser code depends on src/shared only. */
export type { GreedyStep, IngredientReport, Metrics, SoupReport } from '../engine/report';
export { REPORT_FILE, SOUP_MODEL_FILE } from '../engine/report';
export type { Analyses, CalibrationAnalysis, WiseFtAnalysis, AnglesAnalysis, LearnedSoupAnalysis, ReliabilityBin } from '../engine/analyses/types';
import { isCount, isRecord, isStringArray, looksLikeReport, type Parsed } from './validation';

// Messages between the results panel's host side (src/extension/resultsPanel.ts) and its
// browser side (webview/main.ts). The host posts nothing until the webview says `ready`: a
// message posted before the webview's listener exists is lost.

/** Host -> webview: the soup to show. Sent after every `ready` (the webview may reload). */
export interface InitMessage {
  type: 'init';
  /** Absolute soup folder; the webview keeps it as its state so the panel can be restored. */
  soupDir: string;
  /** The soup method: its label (`Greedy soup`) and what it produces. */
  method: SoupMethodView;
  report: SoupReport;
}

/** A soup method as the panel needs it (from the engine's catalogue). */
export type SoupMethodView = Pick<SoupMethodDescriptor, 'id' | 'label' | 'produces'>;

/** Host -> webview: the soup's `report.json` could not be read; `message` says why. */
export interface LoadErrorMessage {
  type: 'loadError';
  soupDir: string;
  message: string;
}

/** Everything the host posts to the webview. */
export type HostToWebview = InitMessage | LoadErrorMessage;

/** Webview -> host: the script is running and listening; the host may post now. */
export interface ReadyMessage {
  type: 'ready';
}

/** Webview -> host: the report was drawn (lets tests and logs see that data arrived). */
export interface RenderedMessage {
  type: 'rendered';
  /** Number of model rows in the table. */
  rows: number;
  /** Number of charts drawn. */
  charts: number;
  /**
   * The Model column of each row as the page shows it (its `textContent`, read back from the
   * DOM): run names that look like markup must come back as the same text.
   */
  labels?: string[];
  /** The header's facts line as the page shows it ("5 of 10 checked (12 found) · held-out …"). */
  summary?: string;
  /** Ids of the chart cards on the page (`chart-scatter`, `chart-trajectory`, `chart-shifts`). */
  cards?: string[];
  /** Hints the page gives instead of what does not apply (e.g. how to add shift sets). */
  hints?: string[];
}

/** Webview -> host: reveal the soup's `soup.onnx` in the Explorer. */
export interface RevealModelMessage {
  type: 'revealModel';
}

/** Webview -> host: open the soup's `report.json` in an editor. */
export interface OpenReportMessage {
  type: 'openReport';
}

/** Webview -> host: copy the soup's member ids (one per line) to the clipboard. */
export interface CopyMembersMessage {
  type: 'copyMembers';
}

/** Webview -> host: cook this soup again from its report (the `modelSoups.recook` command). */
export interface RecookMessage {
  type: 'recook';
}

/** Everything the webview posts to the host. */
export type WebviewToHost = ReadyMessage | RenderedMessage | RevealModelMessage | OpenReportMessage | CopyMembersMessage | RecookMessage;

/** What the webview persists with `setState`; the panel serializer gets it back after a reload. */
export interface PanelState {
  soupDir: string;
}

/** Validates a message received by the host from the webview. */
export function parseWebviewToHost(raw: unknown): Parsed<WebviewToHost> {
  if (!isRecord(raw)) return { ok: false, problem: 'not an object' };
  switch (raw.type) {
    case 'ready':
    case 'revealModel':
    case 'openReport':
    case 'copyMembers':
    case 'recook':
      return { ok: true, message: { type: raw.type } };
    case 'rendered':
      if (!isCount(raw.rows) || !isCount(raw.charts)) return { ok: false, problem: 'rendered: "rows" and "charts" must be counts' };
      if (raw.labels !== undefined && !isStringArray(raw.labels)) return { ok: false, problem: 'rendered: "labels" must be strings' };
      if (raw.summary !== undefined && typeof raw.summary !== 'string') return { ok: false, problem: 'rendered: "summary" must be a string' };
      if (raw.cards !== undefined && !isStringArray(raw.cards)) return { ok: false, problem: 'rendered: "cards" must be strings' };
      if (raw.hints !== undefined && !isStringArray(raw.hints)) return { ok: false, problem: 'rendered: "hints" must be strings' };
      return {
        ok: true,
        message: {
          type: 'rendered',
          rows: raw.rows,
          charts: raw.charts,
          ...(raw.labels !== undefined ? { labels: raw.labels } : {}),
          ...(raw.summary !== undefined ? { summary: raw.summary } : {}),
          ...(raw.cards !== undefined ? { cards: raw.cards } : {}),
          ...(raw.hints !== undefined ? { hints: raw.hints } : {}),
        },
      };
    default:
      return { ok: false, problem: `unknown message type ${JSON.stringify(raw.type)}` };
  }
}

/** Validates a message received by the webview from the host. */
export function parseHostToWebview(raw: unknown): Parsed<HostToWebview> {
  if (!isRecord(raw)) return { ok: false, problem: 'not an object' };
  switch (raw.type) {
    case 'init':
      if (typeof raw.soupDir !== 'string') return { ok: false, problem: 'init: needs "soupDir"' };
      const method = methodView(raw.method);
      if (!method) return { ok: false, problem: 'init: "method" needs "id", "label" and "produces"' };
      if (!looksLikeReport(raw.report)) return { ok: false, problem: 'init: "report" is not a soup report' };
      return { ok: true, message: { type: 'init', soupDir: raw.soupDir, method, report: raw.report } };
    case 'loadError':
      if (typeof raw.soupDir !== 'string' || typeof raw.message !== 'string') return { ok: false, problem: 'loadError: needs "soupDir" and "message"' };
      return { ok: true, message: { type: 'loadError', soupDir: raw.soupDir, message: raw.message } };
    default:
      return { ok: false, problem: `unknown message type ${JSON.stringify(raw.type)}` };
  }
}

function methodView(raw: unknown): SoupMethodView | undefined {
  if (!isRecord(raw) || typeof raw.id !== 'string' || typeof raw.label !== 'string') return undefined;
  const p = raw.produces;
  if (!isRecord(p) || typeof p.steps !== 'boolean' || typeof p.uniformSoup !== 'boolean') return undefined;
  return { id: raw.id, label: raw.label, produces: { steps: p.steps, uniformSoup: p.uniformSoup } };
}

/** Validates the state the webview saved, as handed back by the panel serializer. */
export function parsePanelState(raw: unknown): PanelState | undefined {
  return isRecord(raw) && typeof raw.soupDir === 'string' && raw.soupDir !== '' ? { soupDir: raw.soupDir } : undefined;
}
