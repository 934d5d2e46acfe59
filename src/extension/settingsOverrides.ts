import type { ConfigOverride } from '../engine/config';
import { splitAnalysisList } from '../engine/analyses/settings';

/** The settings section; every setting is `modelSoups.<key>`. */
export const SETTINGS_SECTION = 'modelSoups';

/** One setting that overrides a `modelsoups.json` key. */
interface SettingKey {
  setting: string;
  /** The dotted `modelsoups.json` key it overrides. */
  key: string;
  /** The values that mean "not set" (the schema's defaults). */
  unset: (v: unknown) => boolean;
  /** Add to the key's list instead of replacing it. */
  append?: true;
  /** The key's value from the setting's (the engine validates the result with the file). */
  value?: (v: unknown) => unknown;
}

const nullish = (v: unknown): boolean => v === undefined || v === null;

// The engine validates every value together with the file, so a bad setting gets the file's
// message, naming the setting.
const SETTING_KEYS: SettingKey[] = [
  { setting: 'outputFolder', key: 'output', unset: (v) => v === undefined || (typeof v === 'string' && v.trim() === '') },
  { setting: 'greedyComparison', key: 'greedy.comparison', unset: (v) => v === undefined || v === 'fromConfig' },
  { setting: 'batchSize', key: 'batchSize', unset: nullish },
  { setting: 'threads', key: 'threads', unset: nullish },
  { setting: 'device', key: 'device', unset: (v) => v === undefined || v === 'fromConfig' },
  { setting: 'scanExclude', key: 'exclude', unset: (v) => v === undefined || (Array.isArray(v) && v.length === 0), append: true },
  // A list or a comma list ("calibration, angles"; "none" or [] runs none); null or "" keeps the config's choice.
  { setting: 'analyses.run', key: 'analyses.run', unset: (v) => nullish(v) || (typeof v === 'string' && v.trim() === ''), value: (v) => (typeof v === 'string' ? splitAnalysisList(v) : v) },
  { setting: 'analyses.maxPairs', key: 'analyses.maxPairs', unset: nullish },
  { setting: 'analyses.learnedBudget', key: 'analyses.learnedBudget', unset: nullish },
];

/**
 * The settings that are set, as overrides of `modelsoups.json` keys (`get` reads one
 * `modelSoups.<setting>`): the file stays the shared, committed truth and the settings are
 * per-user tweaks. `scanExclude` adds to `exclude`; the others replace their key.
 */
export function overridesFromSettings(get: (setting: string) => unknown): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const { setting, key, unset, append, value } of SETTING_KEYS) {
    const raw = get(setting);
    if (unset(raw)) continue;
    const v = value ? value(raw) : typeof raw === 'string' ? raw.trim() : raw;
    overrides.push({ key, value: v, origin: `setting ${SETTINGS_SECTION}.${setting}`, ...(append ? { append } : {}) });
  }
  return overrides;
}
