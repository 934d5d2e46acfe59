import type { AnalysisId } from './types';

/** What the analyses run and their limits. */
export interface AnalysesSettings {
  /** The analyses to run. */
  run: AnalysisId[];
  /** At most this many 2-ingredient soups are evaluated for the angle-vs-gain scatter. */
  maxPairs: number;
  /** NLL evaluations the learned soup may use, its start included. */
  learnedBudget: number;
  /** Where the learned soup's search starts: the greedy soup (never less accurate on held-out) or the uniform soup. */
  learnedStart: 'greedy' | 'uniform';
}

/** Every analysis id, in report order. */
export const ANALYSIS_IDS: readonly AnalysisId[] = ['calibration', 'wiseft', 'angles', 'learned'];
/** Ingredients up to which WiSE-FT and angles run by default. */
export const DEFAULT_MAX_K = 16;
/** Default cap of evaluated pairs: every pair of up to 8 ingredients. */
export const DEFAULT_MAX_PAIRS = 28;
/** Default learned-soup budget (the reference's). */
export const DEFAULT_LEARNED_BUDGET = 200;

/**
 * The default settings for `k` ingredients: calibration always; WiSE-FT and angles when a
 * pretrained model is configured and k ≤ 16; the learned soup only on request (it costs up to
 * its budget in held-out passes).
 */
export function defaultAnalysesSettings(k: number, hasPretrained: boolean): AnalysesSettings {
  const run: AnalysisId[] = ['calibration'];
  if (hasPretrained && k <= DEFAULT_MAX_K) run.push('wiseft', 'angles');
  return { run, maxPairs: DEFAULT_MAX_PAIRS, learnedBudget: DEFAULT_LEARNED_BUDGET, learnedStart: 'greedy' };
}

/**
 * Parses a comma-separated list of analysis ids (the CLI's `--analyses`); `none` means none.
 * Throws a RangeError naming an unknown id.
 */
export function parseAnalysisIds(text: string): AnalysisId[] {
  const ids = splitAnalysisList(text);
  for (const id of ids) if (!(ANALYSIS_IDS as readonly string[]).includes(id)) throw new RangeError(`unknown analysis "${id}" (known: ${ANALYSIS_IDS.join(', ')}, none)`);
  return ANALYSIS_IDS.filter((id) => ids.includes(id));
}

/**
 * The names of a comma-separated list of analyses, trimmed and lower-cased, unchecked (`none`
 * alone gives `[]`): the config validates them, naming where the list came from.
 */
export function splitAnalysisList(text: string): string[] {
  const ids = text.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  return ids.length === 1 && ids[0] === 'none' ? [] : ids;
}
