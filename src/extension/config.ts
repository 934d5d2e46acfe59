import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_OUTPUT, readRawConfig, resolveConfig, type ConfigOverride, type SoupConfig } from '../engine/config';
import { overridesFromSettings, SETTINGS_SECTION } from './settingsOverrides';

/** The user's `modelSoups.*` settings that are set, as overrides of `modelsoups.json` keys. */
function settingsOverrides(scope?: vscode.Uri): ConfigOverride[] {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  return overridesFromSettings((setting) => c.get<unknown>(setting));
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
