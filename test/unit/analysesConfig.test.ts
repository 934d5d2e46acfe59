import * as assert from 'node:assert/strict';
import { analysesSettingsOf } from '../../src/engine/analysesPhase';
import { ConfigKeyError, parseConfig } from '../../src/engine/config';

describe('the "analyses" config key and the cook\'s analyses settings', () => {
  const rejects = (analyses: unknown, key: string, problem: RegExp) =>
    assert.throws(
      () => parseConfig({ analyses }, 'modelsoups.json'),
      (e: unknown) => e instanceof ConfigKeyError && e.key === key && problem.test(e.message),
    );

  it('validates each field and names the key', () => {
    rejects('calibration', 'analyses', /"analyses" must be an object/);
    rejects({ runs: [] }, 'analyses.runs', /unknown key "analyses\.runs" \(known: run, maxPairs, learnedBudget\)/);
    rejects({ run: ['calibration', 'colour'] }, 'analyses.run', /"analyses\.run" must be a list of analyses among calibration, wiseft, angles, learned, got/);
    rejects({ maxPairs: 0 }, 'analyses.maxPairs', /positive integer/);
    rejects({ learnedBudget: 2.5 }, 'analyses.learnedBudget', /positive integer/);
    const cfg = parseConfig({ analyses: { run: ['angles', 'calibration'], maxPairs: 3 } }, 'modelsoups.json');
    // Kept in report order whatever the order written.
    assert.deepEqual(cfg.analyses, { run: ['calibration', 'angles'], maxPairs: 3 });
  });

  it('defaults: calibration always; WiSE-FT and angles with a pretrained model and at most 16 ingredients; the config overrides each field', () => {
    const none = parseConfig({}, 'modelsoups.json');
    assert.deepEqual(analysesSettingsOf(none, 12).run, ['calibration']);
    const withPretrained = parseConfig({ pretrained: 'pretrained/model.onnx' }, 'modelsoups.json');
    assert.deepEqual(analysesSettingsOf(withPretrained, 16).run, ['calibration', 'wiseft', 'angles']);
    assert.deepEqual(analysesSettingsOf(withPretrained, 17).run, ['calibration']);
    const set = parseConfig({ pretrained: 'p.onnx', analyses: { run: [], learnedBudget: 9 } }, 'modelsoups.json');
    const s = analysesSettingsOf(set, 4);
    assert.deepEqual(s.run, []);
    assert.equal(s.learnedBudget, 9);
    assert.equal(s.maxPairs, 28);
  });
});
