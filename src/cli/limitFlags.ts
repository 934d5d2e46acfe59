import * as path from 'node:path';
import type { SoupConfig } from '../engine/config';
import type { ParsedArgs } from './args';
import { flagValue, UsageError } from './args';

/**
 * Flags for the limits a user sets and a workspace cannot: `modelsoups.json` comes with the
 * folder being scanned, so it must not be able to widen where the scan goes or how much
 * memory a dataset may take.
 */
export const LIMIT_FLAGS = ['allowed-roots', 'max-dataset-mb'] as const;

/** Usage lines for {@link LIMIT_FLAGS}. */
export const LIMIT_FLAGS_USAGE = `Limits (set by you, never by the workspace's modelsoups.json):
  --allowed-roots DIR,...  folders outside DIR that symlinks may lead into (default: none)
  --max-dataset-mb N       memory budget of one dataset while it loads, in MiB (default 2048)`;

/** Applies the limit flags to `config` (in place) and returns it. */
export function applyLimitFlags(config: SoupConfig, args: ParsedArgs): SoupConfig {
  const roots = flagValue(args, 'allowed-roots');
  if (roots !== undefined) config.allowedRoots = roots.split(',').map((s) => s.trim()).filter(Boolean).map((r) => path.resolve(r));
  const mb = flagValue(args, 'max-dataset-mb');
  if (mb !== undefined) {
    const n = Number(mb);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--max-dataset-mb must be a positive number of MiB, got "${mb.slice(0, 20)}"`);
    config.maxDatasetMB = n;
  }
  return config;
}
