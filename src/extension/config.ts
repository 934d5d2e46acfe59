import * as vscode from 'vscode';
import { loadConfig, type ExecutionDevice, type GreedyComparison, type SoupConfig } from '../engine/config';

/** The settings section; every setting is `modelSoups.<key>`. */
export const SETTINGS_SECTION = 'modelSoups';

/**
 * The user's `modelSoups.*` settings, typed and validated. Each one, when set, overrides the
 * matching key of the workspace's `modelsoups.json`, so the file stays the shared, committed
 * truth and the settings are per-user tweaks.
 */
export interface Settings {
  /** Output folder for soups (workspace-relative or absolute); undefined = the config's. */
  outputFolder?: string;
  greedyComparison?: GreedyComparison;
  batchSize?: number;
  threads?: number;
  /** onnxruntime execution provider; undefined = the config's (`cpu` by default). */
  device?: ExecutionDevice;
  /** Extra exclude globs for the run scan, added to the config's `exclude`. */
  scanExclude: string[];
  /** Open the results panel (beside the editor, without focus) when a cook ends. */
  openResultsAfterCook: boolean;
}

/** Reads the settings in one place; invalid values fall back to "not set" rather than throwing. */
export function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  const output = c.get<unknown>('outputFolder');
  const comparison = c.get<unknown>('greedyComparison');
  const exclude = c.get<unknown>('scanExclude');
  const device = c.get<unknown>('device');
  return {
    outputFolder: typeof output === 'string' && output.trim() !== '' ? output.trim() : undefined,
    greedyComparison: comparison === '>=' || comparison === '>' ? comparison : undefined,
    batchSize: positiveInt(c.get<unknown>('batchSize')),
    threads: positiveInt(c.get<unknown>('threads')),
    device: device === 'cpu' || device === 'cuda' ? device : undefined,
    scanExclude: Array.isArray(exclude) ? exclude.filter((g): g is string => typeof g === 'string' && g !== '') : [],
    openResultsAfterCook: c.get<unknown>('openResultsAfterCook') !== false,
  };
}

/** The engine config for `workspace`: `modelsoups.json` with the settings applied. Throws SoupError. */
export function effectiveConfig(workspace: string, settings: Settings): SoupConfig {
  const config = loadConfig(workspace);
  if (settings.outputFolder) config.output = settings.outputFolder;
  if (settings.greedyComparison) config.greedy = { comparison: settings.greedyComparison };
  if (settings.batchSize) config.batchSize = settings.batchSize;
  if (settings.threads) config.threads = settings.threads;
  if (settings.device) config.device = settings.device;
  config.exclude = [...config.exclude, ...settings.scanExclude];
  return config;
}

/** True when a settings change can change the scan or the cook. */
export function affectsSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(SETTINGS_SECTION);
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
