import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, parseConfig } from '../../src/engine/config';
import type { CookProgress } from '../../src/engine/cookPlan';
import type { ChosenIngredients, CookedSoup, EvaluationSetup, Fingerprints, IngredientEvaluation, PhaseRun } from '../../src/engine/cookPhases';
import {
  buildReport,
  chooseIngredients,
  cookMethodSoup,
  evaluateIngredients,
  fingerprintIngredients,
  loadEvaluation,
  methodOptions,
  verifyUnchanged,
  writeSoup,
} from '../../src/engine/cookPhases';
import { SoupError } from '../../src/engine/errors';
import { PhaseClock } from '../../src/engine/phaseClock';
import { REPORT_FILE, SOUP_MODEL_FILE } from '../../src/engine/report';
import { findSoupMethod } from '../../src/engine/soups/catalogue';
import { getSoupMethod } from '../../src/engine/soups/registry';
import { expected } from './helpers/expected';
import { EXAMPLE, tempDir } from './helpers/paths';

// Three runs of the example zoo, held-out data only: each phase on real data, one call at a time.
const IDS = ['runs/ft-07', 'sweep-a02', 'sweep-b05'];
const config = parseConfig({ datasets: { heldout: 'data/heldout_val.npz' }, pretrained: 'pretrained/model.onnx' }, 'inline');
const heldoutOf = (id: string): number => {
  const ing = expected.ingredients.find((i) => i.id === id);
  assert.ok(ing, id);
  return ing.correct.heldout;
};

describe('cook phases, called one by one', function () {
  this.timeout(120_000);
  const events: string[] = [];
  const run: PhaseRun = { progress: (_d, _t, message) => events.push(message) };
  const greedy = getSoupMethod('greedy');
  let chosen: ChosenIngredients;
  let setup: EvaluationSetup;
  let fingerprints: Fingerprints;
  let evaluation: IngredientEvaluation;
  let soup: CookedSoup;
  let out: string;

  before(async () => {
    out = await tempDir();
  });
  after(async () => {
    await setup?.evaluator.release();
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('scan/choose keeps the planned runs in held-out order and refuses what cannot be cooked', async () => {
    chosen = await chooseIngredients({ workspace: EXAMPLE, config, method: 'greedy', ingredients: IDS }, greedy, run);
    assert.equal(chosen.workspace, EXAMPLE);
    assert.deepEqual(chosen.ingredients.map((i) => i.id), [...IDS].sort((a, b) => expected.sorted_by_heldout.indexOf(a) - expected.sorted_by_heldout.indexOf(b)));
    assert.equal(chosen.scan.runs.length, 12);
    await assert.rejects(chooseIngredients({ workspace: EXAMPLE, config, method: 'greedy', ingredients: ['runs/nope'] }, greedy, run), (e: unknown) => e instanceof SoupError && e.code === 'NO_INGREDIENTS');
    const noHeldout = parseConfig({}, 'inline');
    await assert.rejects(chooseIngredients({ workspace: EXAMPLE, config: noHeldout, method: 'greedy' }, greedy, run), /Greedy soup needs a held-out dataset/);
    // Uniform soup declares no need for held-out data.
    const uniform = await chooseIngredients({ workspace: EXAMPLE, config: noHeldout, method: 'uniform', ingredients: IDS }, findSoupMethod('uniform'), run);
    assert.equal(uniform.ingredients.length, 3);
  });

  it('load opens one session and loads the configured datasets', async () => {
    setup = await loadEvaluation(chosen, config, IDS, run);
    assert.deepEqual(setup.datasets.map((d) => [d.key, d.n]), [['heldout', 2000]]);
    assert.deepEqual(setup.warnings, []);
  });

  it('fingerprint records each model file\'s size and SHA-256', async () => {
    fingerprints = await fingerprintIngredients(chosen.ingredients);
    for (const ing of chosen.ingredients) {
      const bytes = await fsp.readFile(ing.model.path);
      assert.deepEqual(
        { bytes: fingerprints.models.get(ing.id)?.bytes, sha256: fingerprints.models.get(ing.id)?.sha256 },
        { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') },
      );
    }
  });

  it('evaluate measures each ingredient with PyTorch\'s counts and derives the best individual and the ensemble', async () => {
    evaluation = await evaluateIngredients(chosen.ingredients, setup, run);
    for (const id of IDS) assert.equal(evaluation.metrics.get(id)?.correct.heldout, heldoutOf(id), id);
    const best = IDS.reduce((a, b) => (heldoutOf(b) > heldoutOf(a) ? b : a));
    assert.deepEqual(evaluation.bestIndividual.members, [best]);
    assert.deepEqual(evaluation.ensemble.members, chosen.ingredients.map((i) => i.id));
    assert.ok(events.some((e) => e.startsWith(`evaluated ${best} — held-out `)));
  });

  it('soup runs the method with its declared options and computes the uniform baseline apart', async () => {
    assert.deepEqual(methodOptions(greedy, config), { comparison: '>=' });
    soup = await cookMethodSoup(greedy, config, chosen.ingredients, setup, evaluation, run);
    assert.equal(soup.outcome.steps.length, 3);
    assert.equal(soup.outcome.steps[0].correct, heldoutOf(chosen.ingredients[0].id));
    assert.deepEqual(soup.uniform.members, chosen.ingredients.map((i) => i.id));
    assert.equal(soup.metrics.correct.heldout, soup.outcome.steps.filter((s) => s.added).at(-1)?.correct);
  });

  it('a method whose soup is the uniform soup is its own uniform baseline', async () => {
    const uniform = getSoupMethod('uniform');
    assert.deepEqual(methodOptions(uniform, config), {});
    const r = await cookMethodSoup(uniform, config, chosen.ingredients, setup, evaluation, run);
    assert.deepEqual(r.outcome.steps, []);
    assert.equal(r.uniform.metrics, r.metrics);
    assert.deepEqual(r.metrics.correct, soup.uniform.metrics.correct);
  });

  it('verify unchanged passes for untouched files and names a file whose contents differ', async () => {
    await verifyUnchanged(chosen.ingredients, fingerprints);
    const [first] = chosen.ingredients;
    const was = fingerprints.models.get(first.id);
    assert.ok(was);
    const tampered: Fingerprints = { ...fingerprints, models: new Map([...fingerprints.models, [first.id, { ...was, sha256: '0'.repeat(64) }]]) };
    await assert.rejects(verifyUnchanged(chosen.ingredients, tampered), (e: unknown) => e instanceof SoupError && e.code === 'INGREDIENT_CHANGED' && e.file === first.model.path);
  });

  it('build report records the method\'s options first and every run of the scan', () => {
    const report = buildReport({ method: greedy, name: 'phases', config, chosen, setup, fingerprints, evaluation, soup, timings: { scan: 1 } });
    assert.deepEqual(Object.keys(report.options), ['comparison', 'batchSize', 'scale', 'input', 'output', 'device']);
    assert.equal(report.ingredients.length, 12);
    assert.equal(report.ingredients.filter((i) => i.sha256).length, 3);
    assert.equal(report.soup.path, '');
    assert.deepEqual(report.timingsMs, { scan: 1 });
  });

  it('write puts soup.onnx and report.json into a new folder, never over an existing one', async () => {
    const report = buildReport({ method: greedy, name: 'phases', config, chosen, setup, fingerprints, evaluation, soup, timings: {} });
    const to = { workspace: EXAMPLE, outRoot: out, template: chosen.ingredients[0].model, weights: soup.outcome.weights };
    let written = 0;
    const dir = await writeSoup(report, { ...to, onModelWritten: () => written++ });
    assert.equal(written, 1);
    assert.equal(dir, path.join(out, 'phases'));
    const onDisk = JSON.parse(await fsp.readFile(path.join(dir, REPORT_FILE), 'utf8'));
    assert.equal(onDisk.soup.path, path.relative(EXAMPLE, path.join(dir, SOUP_MODEL_FILE)).split(path.sep).join('/'));
    const again = buildReport({ method: greedy, name: 'phases', config, chosen, setup, fingerprints, evaluation, soup, timings: {} });
    assert.equal(await writeSoup(again, to), path.join(out, 'phases-2'));
    assert.equal(again.name, 'phases-2');
  });
});

describe('PhaseClock', () => {
  it('adds the time between phase changes to each phase and stamps progress with the current phase', () => {
    let t = 1000;
    const events: CookProgress[] = [];
    const clock = new PhaseClock((p) => events.push(p), 'scan', () => t);
    t += 5;
    clock.progress(0, 1, 'scanning\nruns');
    clock.enter('load');
    t += 7;
    clock.stop();
    t += 2;
    clock.enter('evaluate');
    assert.deepEqual(clock.timings, { scan: 5, load: 9 });
    assert.equal(clock.phase, 'evaluate');
    assert.deepEqual(events, [{ phase: 'scan', done: 0, total: 1, message: 'scanning⏎runs' }]);
  });
});

describe('method descriptors', () => {
  it('every catalogued method has an implementation and declares the options the report records', () => {
    const cfg = loadConfig(EXAMPLE);
    for (const id of ['greedy', 'uniform', 'learned']) {
      const m = getSoupMethod(id);
      assert.equal(typeof m.cook, 'function');
      assert.deepEqual(Object.keys(methodOptions(m, { ...cfg, analyses: { learnedBudget: 50 } })), m.options.map((o) => o.name));
    }
    assert.throws(() => getSoupMethod('ties'), /unknown soup method "ties" \(known: greedy, uniform, learned\)/);
  });
});
