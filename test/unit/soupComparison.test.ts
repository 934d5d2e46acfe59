import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import type { CalibrationSummary } from '../../src/engine/analyses/types';
import { loadConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import type { SoupReport } from '../../src/engine/report';
import { readSoupReport } from '../../src/engine/soupIndex';
import { parseComparePanelState, parseCompareToHost, parseHostToCompare } from '../../src/shared/compareProtocol';
import { formatGain } from '../../src/shared/format';
import { compareSoups } from '../../src/shared/soupComparison';
import { expected } from './helpers/expected';
import { EXAMPLE, tempDir } from './helpers/paths';

describe('comparing two cooked soups (greedy and uniform on the bundled Fashion-MNIST zoo)', function () {
  this.timeout(900_000);
  let out: string;
  let greedy: SoupReport;
  let uniform: SoupReport;

  before(async () => {
    out = await tempDir();
    // Calibration only: the comparison shows the soups' ECE/NLL; WiSE-FT and angles add nothing here.
    const config = { ...loadConfig(EXAMPLE), analyses: { run: ['calibration' as const] } };
    const g = await cookSoup({ workspace: EXAMPLE, config, method: 'greedy', outDir: out, name: 'greedy' });
    const u = await cookSoup({ workspace: EXAMPLE, config, method: 'uniform', outDir: out, name: 'uniform' });
    // What the panel gets: the reports as read back from disk.
    greedy = await readSoupReport(g.dir);
    uniform = await readSoupReport(u.dir);
  });
  after(async () => {
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('puts both soups side by side on every dataset, and B − A equals the difference of the reports’ own numbers', () => {
    const c = compareSoups(greedy, uniform);
    assert.deepEqual(
      c.datasets.map((d) => d.key),
      ['heldout', 'test', ...greedy.shiftNames, 'shiftAvg'],
    );
    assert.ok(greedy.shiftNames.length > 0, 'the example has shift sets');
    for (const d of c.datasets) {
      const pick = (r: SoupReport): number | undefined => (d.kind === 'shiftAvg' ? r.soup.metrics.shiftAvg : d.kind === 'shift' ? r.soup.metrics.shifts[d.key] : r.soup.metrics[d.kind as 'heldout' | 'test']);
      assert.equal(d.a, pick(greedy), d.key);
      assert.equal(d.b, pick(uniform), d.key);
      assert.equal(d.diffPp, ((pick(uniform) as number) - (pick(greedy) as number)) * 100, d.key);
      assert.equal(d.sameData, true, d.key);
      assert.equal(d.onlyIn, undefined, d.key);
      if (d.kind === 'shiftAvg') continue;
      assert.equal(d.correctA, greedy.soup.metrics.correct[d.key], d.key);
      assert.equal(d.correctB, uniform.soup.metrics.correct[d.key], d.key);
      assert.equal(d.nA, greedy.datasets[d.key].n, d.key);
      assert.equal(d.nB, uniform.datasets[d.key].n, d.key);
      // The count difference and the accuracy difference tell the same story.
      assert.ok(Math.abs(((d.correctB as number) - (d.correctA as number)) / (d.nA as number) * 100 - (d.diffPp as number)) < 1e-9, d.key);
    }
    // The PyTorch reference: the greedy soup's held-out count and the uniform soup's.
    const held = c.datasets[0];
    assert.equal(held.correctA, expected.greedy_soup.correct.heldout);
    assert.equal(held.correctB, expected.uniform_soup.correct.heldout);
    assert.deepEqual(c.warnings, []);
  });

  it('splits the members into common, only in A and only in B, and counts the ingredients', () => {
    const c = compareSoups(greedy, uniform);
    assert.deepEqual(c.a.members, greedy.soup.members);
    assert.deepEqual(c.b.members, uniform.soup.members);
    // The uniform soup takes every candidate, so the greedy soup's members are all common.
    assert.deepEqual(c.members.common, greedy.soup.members);
    assert.deepEqual(c.members.onlyA, []);
    assert.deepEqual(new Set(c.members.onlyB), new Set(uniform.soup.members.filter((m) => !greedy.soup.members.includes(m))));
    assert.equal(c.members.common.length + c.members.onlyB.length, uniform.soup.members.length);
    assert.equal(c.a.candidates, greedy.baselines.ensemble.members.length);
    assert.equal(c.b.ingredientsFound, uniform.ingredients.length);
    assert.equal(c.a.method, 'greedy');
    assert.equal(c.b.method, 'uniform');
  });

  it('shows the soups’ ECE and NLL side by side when both reports hold a calibration analysis, and none otherwise', () => {
    const c = compareSoups(greedy, uniform);
    assert.ok(c.calibration);
    assert.deepEqual(
      c.calibration.map((r) => r.key),
      c.datasets.map((d) => d.key),
    );
    const ca = greedy.analyses?.calibration?.models.soup;
    const cb = uniform.analyses?.calibration?.models.soup;
    assert.ok(ca && cb);
    for (const r of c.calibration) {
      const sa: CalibrationSummary | undefined = r.kind === 'shiftAvg' ? ca.shiftAvg : ca.datasets[r.key];
      const sb: CalibrationSummary | undefined = r.kind === 'shiftAvg' ? cb.shiftAvg : cb.datasets[r.key];
      assert.deepEqual([r.eceA, r.nllA, r.eceB, r.nllB], [sa?.ece, sa?.nll, sb?.ece, sb?.nll], r.key);
    }
    const withoutAnalyses: SoupReport = { ...uniform, analyses: undefined };
    assert.equal(compareSoups(greedy, withoutAnalyses).calibration, undefined);
  });

  it('keeps a dataset that only one soup has, and warns when the soups were evaluated on different data', () => {
    const [dropped, ...kept] = uniform.shiftNames;
    const b: SoupReport = structuredClone(uniform);
    b.shiftNames = kept;
    delete b.soup.metrics.shifts[dropped];
    delete b.datasets[dropped];
    b.datasets.test = { ...b.datasets.test, n: b.datasets.test.n - 1, path: 'elsewhere/test.npz' };
    const c = compareSoups(greedy, b);
    const row = c.datasets.find((d) => d.key === dropped);
    assert.ok(row, 'the dataset only A has is still a row');
    assert.equal(row.onlyIn, 'a');
    assert.equal(row.a, greedy.soup.metrics.shifts[dropped]);
    assert.equal(row.b, undefined);
    assert.equal(row.diffPp, undefined);
    const test = c.datasets.find((d) => d.key === 'test');
    assert.equal(test?.sameData, false);
    assert.equal(c.datasets.find((d) => d.key === 'heldout')?.sameData, true);
    assert.equal(c.datasets.find((d) => d.kind === 'shiftAvg')?.sameData, false);
    assert.equal(c.warnings.length, 3, c.warnings.join('\n'));
    assert.match(c.warnings[0], /different data: test \(.*elsewhere\/test\.npz.*\d+ vs \d+ examples\)/);
    assert.match(c.warnings[1], new RegExp(`Only soup A \\(greedy\\) was evaluated on shift: ${dropped}`));
    assert.match(c.warnings[2], /shift averages are over different shift sets/);
  });

  it('round-trips the compare panel’s messages and rejects malformed ones', () => {
    const init = { type: 'init', a: { soupDir: '/w/.soups/greedy', methodLabel: 'Greedy soup', report: greedy }, b: { soupDir: '/w/.soups/uniform', methodLabel: 'Uniform soup', report: uniform } };
    const parsed = parseHostToCompare(JSON.parse(JSON.stringify(init)));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.message, JSON.parse(JSON.stringify(init)));
    assert.equal(parseHostToCompare({ ...init, b: { ...init.b, report: { schema: 'x' } } }).ok, false);
    assert.equal(parseHostToCompare({ type: 'loadError', soupDirs: ['/a'], message: 'm' }).ok, false);
    const rendered = { type: 'rendered', table: [['Dataset', 'A accuracy']], warnings: [], members: ['In both soups (1): a'], calibration: [], charts: 1 };
    assert.deepEqual(parseCompareToHost(rendered), { ok: true, message: rendered });
    assert.equal(parseCompareToHost({ ...rendered, table: [[1]] }).ok, false);
    assert.equal(parseCompareToHost({ type: 'showResults', side: 'c' }).ok, false);
    assert.deepEqual(parseCompareToHost({ type: 'swap' }), { ok: true, message: { type: 'swap' } });
    assert.deepEqual(parseComparePanelState({ soupDirs: ['/a', '/b'] }), { soupDirs: ['/a', '/b'] });
    assert.equal(parseComparePanelState({ soupDirs: ['/a', ''] }), undefined);
  });

  it('formats a difference with the digits asked for, never showing a tiny loss as +0.00', () => {
    assert.equal(formatGain(0.8856, 0.885, 2), '+0.06 pp');
    assert.equal(formatGain(0.88, 0.8801, 2), '−0.01 pp');
    assert.equal(formatGain(0.88, 0.880001, 2), '±0.00 pp');
    assert.equal(formatGain(0.8856, 0.885), '+0.1 pp');
    assert.equal(formatGain(0.88, 0.8801), '±0.0 pp');
  });
});
