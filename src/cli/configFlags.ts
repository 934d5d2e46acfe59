import type { SoupConfig } from '../engine/config';
import { overrideAt, readRawConfig, resolveConfig, type ConfigOverride } from '../engine/config';
import { parseAnalysisIds } from '../engine/analyses/settings';
import { SoupError } from '../engine/errors';
import type { ParsedArgs } from './args';
import { flagValue, UsageError } from './args';

/** Flags that override a `modelsoups.json` key each; values are validated like the file's. */
export const CONFIG_FLAGS = [
  'config',
  'heldout',
  'test',
  'shift',
  'pretrained',
  'graph',
  'include',
  'exclude',
  'input-name',
  'output-name',
  'scale',
  'comparison',
  'out',
  'metric',
  'batch-size',
  'threads',
  'device',
  'analyses',
  'max-pairs',
  'learned-budget',
] as const;

/** Usage lines for {@link CONFIG_FLAGS}. */
export const CONFIG_FLAGS_USAGE = `Config overrides (each replaces the modelsoups.json key):
  --config FILE            another config file            --out DIR          output
  --heldout PATH           datasets.heldout               --test PATH        datasets.test
  --shift NAME=PATH,...    datasets.shifts                --pretrained FILE  pretrained
  --graph FILE             graph (ONNX export for checkpoint runs)
  --include GLOB,...       include                        --exclude GLOB,... exclude
  --input-name NAME        model.input                    --output-name NAME model.output
  --scale X                scale                          --metric NAME      metric
  --comparison '>='|'>'    greedy.comparison              --batch-size N     batchSize
  --threads N              threads                        --device cpu|cuda  device
  --analyses LIST|none     analyses.run (calibration,wiseft,angles,learned)
  --max-pairs N            analyses.maxPairs              --learned-budget N analyses.learnedBudget
  (a dataset PATH is an .npz file or an image folder <root>/<class>/<images>)`;

/**
 * The workspace config with the command-line overrides applied: each flag replaces its key and
 * the result is validated once, so a bad flag value gets the same message as a bad key; that
 * message is a usage error when the key came from a flag.
 */
export function configFromArgs(workspace: string, args: ParsedArgs): SoupConfig {
  const { raw, source } = readRawConfig(workspace, flagValue(args, 'config'));
  const overrides: ConfigOverride[] = [];
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const num = (flag: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${v}"`);
    return n;
  };
  const shifts = (v: string) => {
    const out: Record<string, string> = {};
    for (const pair of list(v)) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || eq === pair.length - 1) throw new UsageError(`--shift takes NAME=PATH pairs, got "${pair}"`);
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return out;
  };
  const analyses = (v: string) => {
    try {
      return parseAnalysisIds(v);
    } catch (err) {
      throw new UsageError(`--analyses: ${(err as Error).message}`);
    }
  };
  // Flag -> the key it replaces and how its text becomes the key's value.
  const flags: [flag: (typeof CONFIG_FLAGS)[number], key: string, value: (v: string) => unknown][] = [
    ['heldout', 'datasets.heldout', (v) => v],
    ['test', 'datasets.test', (v) => v],
    ['shift', 'datasets.shifts', shifts],
    ['pretrained', 'pretrained', (v) => v],
    ['graph', 'graph', (v) => v],
    ['include', 'include', list],
    ['exclude', 'exclude', list],
    ['input-name', 'model.input', (v) => v],
    ['output-name', 'model.output', (v) => v],
    ['scale', 'scale', (v) => num('scale', v)],
    ['comparison', 'greedy.comparison', (v) => v],
    ['out', 'output', (v) => v],
    ['metric', 'metric', (v) => v],
    ['batch-size', 'batchSize', (v) => num('batch-size', v)],
    ['threads', 'threads', (v) => num('threads', v)],
    ['device', 'device', (v) => v],
    ['analyses', 'analyses.run', analyses],
    ['max-pairs', 'analyses.maxPairs', (v) => num('max-pairs', v)],
    ['learned-budget', 'analyses.learnedBudget', (v) => num('learned-budget', v)],
  ];
  for (const [flag, key, value] of flags) {
    const v = flagValue(args, flag);
    if (v !== undefined) overrides.push({ key, value: value(v), origin: `--${flag}` });
  }
  try {
    return resolveConfig(raw, source, overrides);
  } catch (err) {
    // A value that came from a flag is bad usage, not a broken file.
    const flag = overrideAt(err, overrides);
    if (flag && err instanceof SoupError) throw new UsageError(`${err.problem} (from ${flag.origin})`);
    throw err;
  }
}
