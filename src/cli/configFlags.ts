import type { SoupConfig } from '../engine/config';
import { parseConfig, readRawConfig } from '../engine/config';
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
] as const;

/** Usage lines for {@link CONFIG_FLAGS}. */
export const CONFIG_FLAGS_USAGE = `Config overrides (each replaces the modelsoups.json key):
  --config FILE            another config file            --out DIR          output
  --heldout PATH           datasets.heldout               --test PATH        datasets.test
  --shift NAME=PATH,...    datasets.shifts                --pretrained FILE  pretrained
  --include GLOB,...       include                        --exclude GLOB,... exclude
  --input-name NAME        model.input                    --output-name NAME model.output
  --scale X                scale                          --metric NAME      metric
  --comparison '>='|'>'    greedy.comparison              --batch-size N     batchSize
  --threads N              threads                        --device cpu|cuda  device
  (a dataset PATH is an .npz file or an image folder <root>/<class>/<images>)`;

/**
 * The workspace config with the command-line overrides applied. The flags are merged into the
 * file's JSON before validation, so a bad flag value gets the same message as a bad key; that
 * message is a usage error when the value came from a flag.
 */
export function configFromArgs(workspace: string, args: ParsedArgs): SoupConfig {
  const { raw, source } = readRawConfig(workspace, flagValue(args, 'config'));
  // A file that is not a JSON object gets parseConfig's own error.
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) return parseConfig(raw, source);
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown> | undefined) };
  const overridden: string[] = [];
  const set = (flag: string, apply: (value: string) => void) => {
    const v = flagValue(args, flag);
    if (v === undefined) return;
    apply(v);
    overridden.push(flag);
  };
  const obj = (key: string): Record<string, unknown> => {
    const cur = merged[key];
    const copy = typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? { ...(cur as Record<string, unknown>) } : {};
    merged[key] = copy;
    return copy;
  };
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const num = (flag: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${v}"`);
    return n;
  };
  set('heldout', (v) => (obj('datasets').heldout = v));
  set('test', (v) => (obj('datasets').test = v));
  set('shift', (v) => {
    const shifts: Record<string, string> = {};
    for (const pair of list(v)) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || eq === pair.length - 1) throw new UsageError(`--shift takes NAME=PATH pairs, got "${pair}"`);
      shifts[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    obj('datasets').shifts = shifts;
  });
  set('pretrained', (v) => (merged.pretrained = v));
  set('include', (v) => (merged.include = list(v)));
  set('exclude', (v) => (merged.exclude = list(v)));
  set('input-name', (v) => (obj('model').input = v));
  set('output-name', (v) => (obj('model').output = v));
  set('scale', (v) => (merged.scale = num('scale', v)));
  set('comparison', (v) => (merged.greedy = { ...obj('greedy'), comparison: v }));
  set('out', (v) => (merged.output = v));
  set('metric', (v) => (merged.metric = v));
  set('batch-size', (v) => (merged.batchSize = num('batch-size', v)));
  set('threads', (v) => (merged.threads = num('threads', v)));
  set('device', (v) => (merged.device = v));
  try {
    return parseConfig(merged, overridden.length > 0 ? `${source} (with ${overridden.map((f) => `--${f}`).join(', ')})` : source);
  } catch (err) {
    // A value that came from a flag is bad usage, not a broken file.
    if (err instanceof SoupError && overridden.some((f) => err.problem.includes(FLAG_KEYS[f]))) throw new UsageError(`${err.problem} (from --${overridden.find((f) => err.problem.includes(FLAG_KEYS[f]))})`);
    throw err;
  }
}

/** The config key each flag sets, as config errors name it. */
const FLAG_KEYS: Record<string, string> = {
  heldout: '"datasets.heldout"',
  test: '"datasets.test"',
  shift: '"datasets.shifts',
  pretrained: '"pretrained"',
  include: '"include"',
  exclude: '"exclude"',
  'input-name': '"model.input"',
  'output-name': '"model.output"',
  scale: '"scale"',
  comparison: '"greedy.comparison"',
  out: '"output"',
  metric: '"metric"',
  'batch-size': '"batchSize"',
  threads: '"threads"',
  device: '"device"',
};
