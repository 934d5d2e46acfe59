import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { analysesSettingsOf } from '../../src/engine/analysesPhase';
import { ConfigKeyError, overrideAt, readRawConfig, resolveConfig } from '../../src/engine/config';
import { overridesFromSettings } from '../../src/extension/settingsOverrides';
import { EXAMPLE, REPO } from './helpers/paths';

/** What `vscode.workspace.getConfiguration('modelSoups').get` returns for these settings (others unset). */
const settings = (values: Record<string, unknown>) => (setting: string) => values[setting];

describe('VS Code settings flow through the one config override path', () => {
  const { raw, source } = readRawConfig(EXAMPLE);
  const k = 12;

  it('unset analyses settings keep the config\'s choice (the example: calibration, WiSE-FT and angles)', () => {
    const overrides = overridesFromSettings(settings({ 'analyses.run': null, 'analyses.maxPairs': null, 'analyses.learnedBudget': null }));
    assert.deepEqual(overrides, []);
    assert.deepEqual(overridesFromSettings(settings({ 'analyses.run': '  ' })), []);
    const s = analysesSettingsOf(resolveConfig(raw, source, overrides), k);
    assert.deepEqual(s.run, ['calibration', 'wiseft', 'angles']);
    assert.equal(s.maxPairs, 28);
    assert.equal(s.learnedBudget, 200);
  });

  it('analyses.run takes a list or a comma list ("none" and [] run none); maxPairs and learnedBudget replace their keys', () => {
    const cfg = (values: Record<string, unknown>) => analysesSettingsOf(resolveConfig(raw, source, overridesFromSettings(settings(values))), k);
    assert.deepEqual(cfg({ 'analyses.run': ['learned', 'calibration'] }).run, ['calibration', 'learned']);
    assert.deepEqual(cfg({ 'analyses.run': ' Angles, calibration ,learned' }).run, ['calibration', 'angles', 'learned']);
    assert.deepEqual(cfg({ 'analyses.run': 'none' }).run, []);
    assert.deepEqual(cfg({ 'analyses.run': [] }).run, []);
    const s = cfg({ 'analyses.maxPairs': 5, 'analyses.learnedBudget': 40 });
    assert.equal(s.maxPairs, 5);
    assert.equal(s.learnedBudget, 40);
    assert.deepEqual(s.run, ['calibration', 'wiseft', 'angles']);
  });

  it('a bad analyses setting is a config error naming the key and the setting', () => {
    const bad = (values: Record<string, unknown>, key: string, problem: RegExp) => {
      const overrides = overridesFromSettings(settings(values));
      assert.throws(
        () => resolveConfig(raw, source, overrides),
        (err: unknown) => {
          assert.ok(err instanceof ConfigKeyError);
          assert.equal(err.key, key);
          assert.match(err.problem, problem);
          assert.equal(overrideAt(err, overrides)?.origin, `setting modelSoups.${key}`);
          assert.equal(err.file, `${source} (with setting modelSoups.${key})`);
          return true;
        },
      );
    };
    bad({ 'analyses.run': 'calibration,colour' }, 'analyses.run', /must be a list of analyses among calibration, wiseft, angles, learned/);
    bad({ 'analyses.run': [3] }, 'analyses.run', /must be a list of analyses/);
    bad({ 'analyses.maxPairs': 0 }, 'analyses.maxPairs', /positive integer/);
    bad({ 'analyses.learnedBudget': 1.5 }, 'analyses.learnedBudget', /positive integer/);
  });

  it('package.json declares every overriding setting, and its default means "not set"', () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const props: Record<string, { default?: unknown }> = manifest.contributes.configuration.properties;
    const names = Object.keys(props).filter((n) => n.startsWith('modelSoups.')).map((n) => n.slice('modelSoups.'.length));
    for (const name of ['analyses.run', 'analyses.maxPairs', 'analyses.learnedBudget']) assert.ok(names.includes(name), `package.json lacks modelSoups.${name}`);
    // Every setting at its declared default adds no override: the file keeps its say.
    const defaults = Object.fromEntries(names.map((n) => [n, props[`modelSoups.${n}`].default]));
    assert.deepEqual(overridesFromSettings(settings(defaults)), []);
  });
});
