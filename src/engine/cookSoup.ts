import * as path from 'node:path';
import type { CookOptions, CookPlan } from './cookPlan';
import { defaultSoupName } from './cookPlan';
import {
  buildReport,
  displayPath,
  checkpointOutput,
  chooseIngredients,
  cookMethodSoup,
  enterGraphSpace,
  evaluateIngredients,
  fingerprintIngredients,
  loadEvaluation,
  releaseEvaluation,
  verifyUnchanged,
  writeSoup,
  type ChosenIngredients,
  type PhaseRun,
} from './cookPhases';
import { analyseSoup, analysesSettingsOf } from './analysesPhase';
import { EvaluationBook } from './analyses/modelEvaluation';
import { throwIfAborted } from './errors';
import { PhaseClock } from './phaseClock';
import type { SoupReport } from './report';
import { getSoupMethod } from './soups/registry';
import { prewarmMeanWorker } from './soups/streamingMean';
import { checkOutputWritable } from './soupOutput';

/** The outcome of a cook. */
export interface CookResult {
  report: SoupReport;
  /** Absolute soup folder holding `soup.onnx` and `report.json`. */
  dir: string;
}

/**
 * Cooks one soup end to end: finds the runs, loads the datasets, evaluates every ingredient
 * once per dataset (which also feeds the logit ensemble), runs the soup method, evaluates the
 * soup and the uniform baseline, and writes `soup.onnx` + `report.json` (+ `model.safetensors`
 * for checkpoint soups) atomically into `<output>/<name>/`. Ingredient files are only read. On abort it throws CANCELLED and leaves
 * no output. Each step is a phase of cookPhases.ts.
 */
export async function cookSoup(plan: CookPlan, opts: CookOptions & { onChosen?: (chosen: ChosenIngredients) => void } = {}): Promise<CookResult> {
  const { signal } = opts;
  const method = getSoupMethod(plan.method);
  const config = plan.config;
  const clock = new PhaseClock(opts.onProgress);
  const run: PhaseRun = { signal, progress: (done, total, message) => clock.progress(done, total, message) };

  // The averaging thread starts while the scan and the evaluation run.
  prewarmMeanWorker();
  const outRoot = path.resolve(plan.workspace, plan.outDir ?? config.output);
  // A folder that cannot take the soup fails now, not after the whole cook.
  await checkOutputWritable(outRoot);
  const chosen = await chooseIngredients(plan, method, run);
  // A re-cook refuses here when the scan no longer offers what the original cook chose.
  opts.onChosen?.(chosen);
  return cookChosen(plan, chosen, clock, { ...opts, outRoot });
}

/**
 * The cook from the load phase on, for ingredients already chosen (a test may choose them
 * itself). Removes the graph space's temp folder at the end, on failure and on cancel.
 */
export async function cookChosen(plan: CookPlan, chosen: ChosenIngredients, clock: PhaseClock, opts: CookOptions & { outRoot: string }): Promise<CookResult> {
  const { signal, outRoot } = opts;
  const method = getSoupMethod(plan.method);
  const config = plan.config;
  const run: PhaseRun = { signal, progress: (done, total, message) => clock.progress(done, total, message) };
  const { workspace } = chosen;
  clock.enter('load');
  const setup = await loadEvaluation(chosen, config, plan.ingredients, run);
  // The session may have refused the first architecture: the ingredients are the ones it runs.
  const ingredients = chosen.ingredients;
  try {
    await enterGraphSpace(chosen, run);
    const fingerprints = await fingerprintIngredients(ingredients, signal);
    clock.enter('evaluate');
    const analysesSettings = analysesSettingsOf(config, ingredients.length);
    const book = analysesSettings.run.length > 0 ? new EvaluationBook() : undefined;
    const evaluation = await evaluateIngredients(ingredients, setup, run, book);
    clock.enter('soup');
    const soup = await cookMethodSoup(method, config, ingredients, setup, evaluation, run);
    let analyses;
    if (book) {
      clock.enter('analyses');
      analyses = await analyseSoup(analysesSettings, chosen, setup, evaluation, soup, run);
    }
    clock.enter('write');
    await verifyUnchanged(ingredients, fingerprints, signal);
    const name = plan.name ?? defaultSoupName(method.id);
    const report = buildReport({ method, name, config, chosen, setup, fingerprints, evaluation, soup, timings: clock.timings, analyses });
    throwIfAborted(signal);
    const dir = await writeSoup(report, {
      workspace,
      outRoot,
      template: chosen.graphSpace?.graph ?? ingredients[0].model,
      weights: soup.outcome.weights,
      checkpoint: checkpointOutput(chosen, soup.outcome.members),
      signal,
      onModelWritten: () => clock.stop(),
    });
    run.progress(1, 1, `wrote ${displayPath(workspace, dir)}`);
    return { report, dir };
  } finally {
    await releaseEvaluation(setup);
    await chosen.graphSpace?.close();
  }
}
