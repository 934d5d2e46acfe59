import * as assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookSoup } from '../../src/engine/cookSoup';
import { SoupError } from '../../src/engine/errors';
import { IngredientsChangedError, planRecook, recookSoup } from '../../src/engine/recook';
import type { SoupReport } from '../../src/engine/report';
import { REPORT_FILE } from '../../src/engine/report';
import { expected } from './helpers/expected';
import { EXAMPLE, tempDir } from './helpers/paths';
import { runCli } from './helpers/runCli';

/** Every count a cook reports, keyed by what it counts. */
function counts(r: SoupReport): Record<string, unknown> {
  return {
    ingredients: r.ingredients.map((i) => [i.id, i.status, i.sha256, i.metrics?.correct]),
    soup: r.soup.metrics.correct,
    members: r.soup.members,
    uniform: [r.baselines.uniform.members, r.baselines.uniform.metrics.correct],
    ensemble: [r.baselines.ensemble.members, r.baselines.ensemble.metrics.correct],
    bestIndividual: [r.baselines.bestIndividual.members, r.baselines.bestIndividual.metrics.correct],
    steps: r.steps.map((s) => [s.candidate, s.correct, s.bestBefore, s.added]),
    datasets: r.datasets,
    options: r.options,
    // Everything but the wall time it cost.
    calibration: r.analyses?.calibration && { ...r.analyses.calibration, cost: { ...r.analyses.calibration.cost, ms: 0 } },
    skipped: r.analyses?.skipped,
  };
}

describe('recook: a soup cooked again from its report.json', function () {
  this.timeout(600_000);
  let ws: string;
  let original: CookResult;
  let originalText: string;

  before(async () => {
    ws = await tempDir('soups-recook-');
    await fsp.cp(EXAMPLE, ws, { recursive: true });
    // Settings that are not in the workspace's modelsoups.json: the re-cook must take the recorded ones.
    const config = { ...loadConfig(ws), analyses: { run: ['calibration' as const] }, greedy: { comparison: '>=' as const } };
    original = await cookSoup({ workspace: ws, config, method: 'greedy', name: 'orig' });
    originalText = await fsp.readFile(path.join(original.dir, REPORT_FILE), 'utf8');
  });
  after(async () => {
    await fsp.rm(ws, { recursive: true, force: true });
  });

  it('records the config it cooked with, without the user-only limits', () => {
    assert.deepEqual(original.report.recipe?.config.analyses, { run: ['calibration'] });
    assert.equal(original.report.recipe?.config.datasets.heldout, 'data/heldout_val.npz');
    assert.ok(!('allowedRoots' in (original.report.recipe?.config ?? {})));
  });

  it('reproduces every count and the same members, into a new folder beside the original', async () => {
    const re = await recookSoup({ report: path.join(original.dir, REPORT_FILE) });
    assert.equal(re.dir, path.join(ws, '.soups', 'orig-recook'));
    assert.deepEqual(re.changed, []);
    assert.deepEqual(counts(re.report), counts(original.report));
    assert.deepEqual(re.report.soup.members, expected.greedy_soup.members);
    assert.equal(re.report.analyses?.wiseFt, undefined, 'the recorded analyses ran, not the workspace defaults');
    const asWritten = (r: SoupReport) => JSON.parse(JSON.stringify(r.recipe)) as unknown;
    assert.deepEqual(asWritten(re.report), asWritten(original.report));
    // The original soup is untouched; a second re-cook takes the next free name.
    assert.equal(await fsp.readFile(path.join(original.dir, REPORT_FILE), 'utf8'), originalText);
    const plan = await planRecook({ report: original.dir });
    assert.equal(plan.plan.name, 'orig-recook');
    assert.deepEqual(plan.ingredients, original.report.baselines.ensemble.members);
  });

  it('recook --json --out prints the re-cooked report and writes it where --out says', async () => {
    const out = await tempDir();
    try {
      const r = runCli(['recook', path.join(original.dir, REPORT_FILE), '--json', '--out', out, '--name', 'again']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as SoupReport;
      assert.deepEqual(counts(report), counts(original.report));
      assert.ok(existsSync(path.join(out, 'again', 'soup.onnx')));
      assert.equal(report.name, 'again');
      // Bad usage exits 2, as for cook.
      assert.equal(runCli(['recook']).code, 2);
      assert.equal(runCli(['recook', original.dir, '--method', 'uniform']).code, 2);
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });

  it('rebuilds the config of a report without a recipe from its fields', async () => {
    const { recipe: _recipe, ...legacy } = original.report;
    const dir = path.join(ws, '.soups', 'legacy');
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, REPORT_FILE), JSON.stringify({ ...legacy, name: 'legacy', soup: { ...legacy.soup, path: '.soups/legacy/soup.onnx' } }));
    const plan = await planRecook({ report: dir });
    assert.deepEqual(plan.plan.config.datasets, original.report.recipe?.config.datasets);
    assert.deepEqual(plan.plan.config.analyses, { run: ['calibration'] });
    assert.equal(plan.plan.config.greedy.comparison, '>=');
    // Without options (an early @1 report) it says exactly what is missing.
    await fsp.writeFile(path.join(dir, REPORT_FILE), JSON.stringify({ ...legacy, schema: 'model-soups/report@1', options: undefined, analyses: undefined }));
    await assert.rejects(planRecook({ report: dir }), (err: unknown) => err instanceof SoupError && err.code === 'CONFIG_INVALID' && /lacks "options"/.test(err.message));
  });

  it('refuses, naming every changed and missing ingredient, when the workspace changed', async () => {
    const changedModel = path.join(ws, 'runs', 'ft-07', 'model.onnx');
    await fsp.appendFile(changedModel, Buffer.from([0]));
    const gone = original.report.ingredients.find((i) => i.id === 'sweep-c09');
    assert.ok(gone);
    await fsp.rename(path.join(ws, gone.model), path.join(ws, `${gone.model}.moved`));
    const err = await recookSoup({ report: original.dir }).then(
      () => assert.fail('re-cooked changed ingredients'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IngredientsChangedError, String(err));
    assert.equal(err.code, 'INGREDIENT_CHANGED');
    assert.deepEqual(err.changes.map((c) => c.id).sort(), ['runs/ft-07', 'sweep-c09']);
    assert.ok(err.message.includes(changedModel), err.message);
    assert.match(err.message, /sweep-c09 \(.*missing or unreadable\)/);
    const r = runCli(['recook', original.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /INGREDIENT|changed since this soup was cooked/);
    assert.ok(!existsSync(path.join(ws, '.soups', 'orig-recook-2')));
  });
});
