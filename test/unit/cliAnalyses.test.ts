import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SoupReport } from '../../src/engine/report';
import { expected } from './helpers/expected';
import { EXAMPLE, tempDir } from './helpers/paths';
import { runCli } from './helpers/runCli';

const run = (args: string[]) => runCli(args, 600_000);

describe('model-soup CLI: analyses and the learned soup', function () {
  this.timeout(900_000);
  let out: string;
  before(async () => {
    out = await tempDir();
  });
  after(async () => {
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('prints a section per analysis chosen with --analyses, capped by --max-pairs', () => {
    const r = run(['cook', EXAMPLE, '--method', 'uniform', '--out', out, '--name', 'u', '--ingredients', 'runs/ft-07,sweep-c09,runs/ft-10', '--analyses', 'calibration,wiseft,angles', '--max-pairs', '1']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(path.join(out, 'u', 'report.json'), 'utf8')) as SoupReport;
    const a = report.analyses;
    assert.ok(a?.calibration && a.wiseFt && a.angles);
    assert.equal(a.angles.settings.maxPairs, 1);
    assert.match(r.stdout, /Calibration \(ECE with 15 equal-width bins; 7 extra passes\):/);
    // The soup's row shows the report's numbers.
    const soupHeldout = a.calibration.models.soup.datasets.heldout;
    assert.match(r.stdout, new RegExp(`soup\\s+held-out\\s+${soupHeldout.ece.toFixed(4)}\\s+${soupHeldout.nll.toFixed(4)}\\s+${soupHeldout.brier.toFixed(4)}`));
    assert.match(r.stdout, /logit ensemble\s+shift avg/);
    assert.match(r.stdout, /temperature of the soup: T = \d\.\d{3} \(fitted on held-out NLL\); ECE\/NLL before → after: held-out/);
    assert.match(r.stdout, new RegExp(`WiSE-FT .*\\n.*\\n.*\\nsoup\\s+${a.wiseFt.curves[0].bestAlpha.heldout.alpha.toFixed(1)}`));
    assert.match(r.stdout, /2-soups evaluated: 1 of 3 pairs/);
    assert.match(r.stdout, /fewer than 3 pairs evaluated: no correlation/);
  });

  it('--analyses none runs none; a bad --analyses or --max-pairs is a usage error naming it', () => {
    const none = run(['cook', EXAMPLE, '--method', 'uniform', '--out', out, '--name', 'n', '--ingredients', 'runs/ft-07,sweep-c09', '--analyses', 'none', '--json']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal((JSON.parse(none.stdout) as SoupReport).analyses, undefined);
    const bad = run(['cook', EXAMPLE, '--out', out, '--analyses', 'calibration,colour']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--analyses: unknown analysis "colour"/);
    const zero = run(['cook', EXAMPLE, '--out', out, '--max-pairs', '0']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /"analyses\.maxPairs" must be a positive integer.*--max-pairs/);
  });

  it('--method learned starts at the greedy soup and never ends below its held-out accuracy', () => {
    const r = run(['cook', EXAMPLE, '--method', 'learned', '--out', out, '--name', 'l', '--analyses', 'none', '--learned-budget', '10', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SoupReport;
    assert.equal(report.method, 'learned');
    assert.ok((report.soup.metrics.correct.heldout as number) >= expected.greedy_soup.correct.heldout);
    assert.deepEqual(report.steps.filter((s) => s.added).map((s) => s.candidate), expected.greedy_soup.members);
    const w = report.soup.mixWeights;
    assert.ok(w);
    assert.ok(Math.abs(Object.values(w).reduce((s, x) => s + x, 0) - 1) < 1e-12);
    assert.deepEqual(report.soup.members, Object.keys(w).filter((id) => w[id] > 0));
    assert.equal(report.options.budget, 10);
    assert.match(r.stderr, /learned: 10\/10/);
  });
});
