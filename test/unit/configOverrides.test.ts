import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ConfigKeyError, loadConfig, overrideAt, readRawConfig, resolveConfig, type ConfigOverride } from '../../src/engine/config';
import { configFromArgs } from '../../src/cli/configFlags';
import { parseArgs, UsageError } from '../../src/cli/args';
import { CONFIG_FLAGS } from '../../src/cli/configFlags';
import { EXAMPLE, tempDir } from './helpers/paths';

describe('config overrides (CLI flags, settings): one engine function, validated once', () => {
  const { raw, source } = readRawConfig(EXAMPLE);

  it('without overrides gives what loadConfig reads', () => {
    assert.deepEqual(resolveConfig(raw, source), loadConfig(EXAMPLE));
  });

  it('replaces nested and top-level keys, appends where asked, and leaves the file\'s object alone', () => {
    const before = JSON.stringify(raw);
    const cfg = resolveConfig(raw, source, [
      { key: 'datasets.heldout', value: 'data/test.npz', origin: '--heldout' },
      { key: 'greedy.comparison', value: '>', origin: 'setting modelSoups.greedyComparison' },
      { key: 'batchSize', value: 64, origin: '--batch-size' },
      { key: 'exclude', value: ['old/**'], origin: 'setting modelSoups.scanExclude', append: true },
      { key: 'exclude', value: ['tmp/**'], origin: 'setting modelSoups.scanExclude', append: true },
    ]);
    assert.equal(cfg.datasets.heldout, 'data/test.npz');
    assert.equal(cfg.datasets.test, 'data/test.npz');
    assert.equal(Object.keys(cfg.datasets.shifts).length, 5);
    assert.equal(cfg.greedy.comparison, '>');
    assert.equal(cfg.batchSize, 64);
    assert.deepEqual(cfg.exclude, ['old/**', 'tmp/**']);
    assert.equal(JSON.stringify(raw), before);
  });

  it('a bad override fails with the key and names where the value came from', () => {
    const overrides: ConfigOverride[] = [{ key: 'device', value: 'tpu', origin: 'setting modelSoups.device' }];
    assert.throws(
      () => resolveConfig(raw, source, overrides),
      (err: unknown) => {
        assert.ok(err instanceof ConfigKeyError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.key, 'device');
        assert.equal(err.file, `${source} (with setting modelSoups.device)`);
        assert.match(err.problem, /"device" must be "cpu" or "cuda", got "tpu"/);
        assert.equal(overrideAt(err, overrides), overrides[0]);
        return true;
      },
    );
  });

  it('an error in the file is not blamed on an override, and a non-object file gets its own error', () => {
    const overrides: ConfigOverride[] = [{ key: 'datasets.shifts', value: { a: 'x.npz' }, origin: '--shift' }];
    assert.throws(() => resolveConfig({ batchSize: 0 }, 'f.json', overrides), (err: unknown) => err instanceof ConfigKeyError && err.key === 'batchSize' && overrideAt(err, overrides) === undefined);
    assert.throws(() => resolveConfig({}, 'f.json', [{ key: 'datasets.shifts', value: { test: 'x.npz' }, origin: '--shift' }]), (err: unknown) => overrideAt(err, [{ key: 'datasets.shifts', value: 0, origin: '--shift' }])?.origin === '--shift');
    assert.throws(() => resolveConfig([1], 'f.json', overrides), /f\.json: expected a JSON object at the top level/);
  });

  it('the CLI turns an error in a flag\'s key into bad usage naming the flag, and one in the file into an error', async () => {
    const args = (argv: string[]) => parseArgs(argv, CONFIG_FLAGS, []);
    assert.throws(() => configFromArgs(EXAMPLE, args(['--comparison', '='])), (err: unknown) => err instanceof UsageError && /"greedy\.comparison" must be ">=".*\(from --comparison\)$/.test(err.message));
    assert.throws(() => configFromArgs(EXAMPLE, args(['--shift', 'heldout=x.npz'])), (err: unknown) => err instanceof UsageError && /\(from --shift\)$/.test(err.message));
    const ws = await tempDir();
    try {
      await fsp.writeFile(path.join(ws, 'modelsoups.json'), '{"threads": -1}');
      assert.throws(() => configFromArgs(ws, args(['--device', 'cpu'])), (err: unknown) => err instanceof ConfigKeyError && err.key === 'threads');
    } finally {
      await fsp.rm(ws, { recursive: true, force: true });
    }
  });
});
