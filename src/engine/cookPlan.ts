import type { SoupConfig } from './config';

/** What to cook. */
export interface CookPlan {
  /** Absolute path of the workspace (the folder holding the runs and `modelsoups.json`). */
  workspace: string;
  config: SoupConfig;
  /** Soup method id from the catalogue (`greedy`, `uniform`; see soups/catalogue.ts). */
  method: string;
  /** Restrict the ingredients to these run ids (default: every scored, compatible run). */
  ingredients?: string[];
  /** Soup folder name under the output folder (default: `<method>-<timestamp>`). */
  name?: string;
  /** Output folder override (absolute or workspace-relative); default `config.output`. */
  outDir?: string;
}

/** The default soup folder name: `<method>-<yyyymmdd>-<hhmmss>`, local time. */
export function defaultSoupName(method: string, at: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${method}-${at.getFullYear()}${p(at.getMonth() + 1)}${p(at.getDate())}-${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}`;
}

/** Phases of a cook, in order; also the keys of `timingsMs`. */
export type CookPhase = 'scan' | 'load' | 'evaluate' | 'soup' | 'analyses' | 'write';

/** A progress event. `done`/`total` count units within the phase. */
export interface CookProgress {
  phase: CookPhase;
  done: number;
  total: number;
  /** Human-readable line, e.g. "greedy: 5/12 runs/ft-07 — held-out 87.6 %, kept". */
  message: string;
}

/** Callbacks and cancellation for long engine work. */
export interface CookOptions {
  signal?: AbortSignal;
  onProgress?: (p: CookProgress) => void;
}
