import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SOUP } from '../../src/engine/analyses/runAnalyses';
import { loadConfig } from '../../src/engine/config';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookSoup } from '../../src/engine/cookSoup';
import { REPORT_FILE, REPORT_SCHEMA } from '../../src/engine/report';
import { readSoupReport } from '../../src/engine/soupIndex';
import { looksLikeReport } from '../../src/shared/validation';
import { assertCalibrationMatchesReference, reference } from './helpers/analysesContext';
import { expected } from './helpers/expected';
import { EXAMPLE, tempDir } from './helpers/paths';

describe('a cook with analyses on the bundled Fashion-MNIST zoo (against the PyTorch reference)', function () {
  this.timeout(900_000);
  let out: string;
  let cooked: CookResult;

  before(async () => {
    out = await tempDir();
    const config = { ...loadConfig(EXAMPLE), analyses: { run: ['calibration' as const, 'wiseft' as const, 'angles' as const], maxPairs: 2 } };
    cooked = await cookSoup({ workspace: EXAMPLE, config, method: 'greedy', outDir: out, name: 'greedy' });
  });
  after(async () => {
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('writes a @2 report whose calibration equals the reference for every model, at one pass of the pretrained model per dataset', async () => {
    const a = cooked.report.analyses;
    assert.equal(cooked.report.schema, REPORT_SCHEMA);
    assert.ok(a?.calibration);
    assert.equal(assertCalibrationMatchesReference(a.calibration), 16 * 7);
    // The ingredients, the uniform soup, the soup and the ensemble come from the cook's own passes.
    assert.equal(a.calibration.cost.forwardPasses, 7);
    const t = a.calibration.temperature.find((x) => x.model === SOUP);
    assert.ok(t && Math.abs(t.T - reference.calibration.temperature_scaling.greedy_soup.T) < 1e-3);
    assert.ok(cooked.report.timingsMs.analyses >= 0);
    const onDisk: unknown = JSON.parse(await fsp.readFile(path.join(cooked.dir, REPORT_FILE), 'utf8'));
    assert.ok(looksLikeReport(onDisk));
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(cooked.report)));
  });

  it('WiSE-FT counts equal the reference for both curves, and the pretrained model and the soup cost no second pass', () => {
    const w = cooked.report.analyses?.wiseFt;
    assert.ok(w);
    assert.deepEqual(w.curves[0].points.map((p) => p.correct), reference.wise_ft.greedy_soup.points.map((p) => p.correct));
    assert.deepEqual(w.curves[1].points.map((p) => p.correct), reference.wise_ft.best_individual.points.map((p) => p.correct));
    assert.equal(w.curves[1].endpoint, expected.sorted_by_heldout[0]);
    assert.equal(w.cost.forwardPasses, 18 * 7);
  });

  it('angles: every pair measured, only the capped pairs evaluated, and the report says how many', () => {
    const g = cooked.report.analyses?.angles;
    assert.ok(g);
    assert.equal(g.pairsTotal, 66);
    assert.equal(g.pairsEvaluated, 2);
    assert.equal(g.pairs.filter((p) => p.soup).length, 2);
    assert.deepEqual(cooked.report.analyses?.skipped, []);
  });

  it('reads a @1 report (no analyses) still', async () => {
    const { analyses: _dropped, ...old } = JSON.parse(JSON.stringify(cooked.report)) as Record<string, unknown>;
    const v1 = { ...old, schema: 'model-soups/report@1' };
    assert.ok(looksLikeReport(v1));
    assert.ok(!looksLikeReport({ ...old, schema: 'model-soups/report@3' }));
    const dir = path.join(out, 'v1');
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, REPORT_FILE), JSON.stringify(v1));
    const read = await readSoupReport(dir);
    assert.equal(read.schema, 'model-soups/report@1');
    assert.equal(read.analyses, undefined);
  });
});
