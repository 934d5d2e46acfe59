import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_OUTPUT, defaultConfig, readRawConfig, resolveConfig, type ConfigOverride, type SoupConfig } from '../engine/config';

/** The settings section; every setting is `modelSoups.<key>`. */
const SETTINGS_SECTION = 'modelSoups';

// Setting -> the modelsoups.json key it overrides, and the values that mean "not set" (the
// schema's defaults). The engine validates the rest together with the file.
const SETTING_KEYS: [setting: string, key: string, unset: (v: unknown) => boolean, append?: true][] = [
  ['outputFolder', 'output', (v) => v === undefined || (typeof v === 'string' && v.trim() === '')],
  ['greedyComparison', 'greedy.comparison', (v) => v === undefined || v === 'fromConfig'],
  ['batchSize', 'batchSize', (v) => v === undefined || v === null],
  ['threads', 'threads', (v) => v === undefined || v === null],
  ['device', 'device', (v) => v === undefined || v === 'fromConfig'],
  ['scanExclude', 'exclude', (v) => v === undefined || (Array.isArray(v) && v.length === 0), true],
];

/**
 * The user's `modelSoups.*` settings that are set, as overrides of `modelsoups.json` keys: the
 * file stays the shared, committed truth and the settings are per-user tweaks. `scanExclude`
 * adds to `exclude`; the others replace their key.
 */
function settingsOverrides(scope?: vscode.Uri): ConfigOverride[] {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  const overrides: ConfigOverride[] = [];
  for (const [setting, key, unset, append] of SETTING_KEYS) {
    const raw = c.get<unknown>(setting);
    if (unset(raw)) continue;
    overrides.push({ key, value: typeof raw === 'string' ? raw.trim() : raw, origin: `setting ${SETTINGS_SECTION}.${setting}`, ...(append ? { append } : {}) });
  }
  return overrides;
}

/** Extension-only settings, that no `modelsoups.json` key matches. */
export interface Settings {
  /** Open the results panel (beside the editor, without focus) when a cook ends. */
  openResultsAfterCook: boolean;
}

/** Reads the extension-only settings. */
export function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  return { openResultsAfterCook: c.get<unknown>('openResultsAfterCook') !== false };
}

/** The engine config for `workspace`: `modelsoups.json` with the settings applied. Throws SoupError naming the key. */
export function effectiveConfig(workspace: string, scope?: vscode.Uri): SoupConfig {
  const { raw, source } = readRawConfig(workspace);
  return applyLimits(resolveConfig(raw, source, settingsOverrides(scope)), scope);
}

/**
 * The limits only the user sets (machine-scope settings, never `modelsoups.json`): a workspace
 * must not widen where its own scan goes or how much memory its datasets may take.
 */
function applyLimits(config: SoupConfig, scope?: vscode.Uri): SoupConfig {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  const roots = c.get<unknown>('allowedRoots');
  const maxMB = c.get<unknown>('maxDatasetMB');
  config.allowedRoots = Array.isArray(roots) ? roots.filter((r): r is string => typeof r === 'string' && path.isAbsolute(r)) : [];
  if (typeof maxMB === 'number' && Number.isFinite(maxMB) && maxMB > 0) config.maxDatasetMB = maxMB;
  return config;
}

/** The user's limits alone: a re-cook takes its config from the report and only these from the settings. */
export function userLimits(scope?: vscode.Uri): Pick<SoupConfig, 'allowedRoots' | 'maxDatasetMB'> {
  const { allowedRoots, maxDatasetMB } = applyLimits(defaultConfig(), scope);
  return { allowedRoots, maxDatasetMB };
}

/** The output folder when `modelsoups.json` cannot be used: the setting's, else the default. */
export function fallbackOutput(scope?: vscode.Uri): string {
  try {
    return resolveConfig(undefined, SETTINGS_SECTION, settingsOverrides(scope)).output;
  } catch {
    return DEFAULT_OUTPUT;
  }
}

/** True when a settings change can change the scan or the cook. */
export function affectsSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(SETTINGS_SECTION);
}
