// The analyses phase of a cook (issue 11): after the soup is evaluated and before it is written,
// run the analyses the config asks for on the cook's own passes (recorded in an EvaluationBook
// by the evaluate and soup phases), so the ingredients, the uniform soup, the soup and the
// ensemble cost no extra forward pass.
import type { SoupConfig } from './config';
import type { ChosenIngredients, CookedSoup, EvaluationSetup, IngredientEvaluation, PhaseRun } from './cookPhases';
import { runAnalyses } from './analyses/runAnalyses';
import type { AnalysesSettings } from './analyses/settings';
import { defaultAnalysesSettings } from './analyses/settings';
import type { Analyses, SkippedAnalysis } from './analyses/types';

/**
 * The analyses settings of a cook: the config's `analyses` keys over the defaults for `k`
 * ingredients (calibration always; WiSE-FT and angles with a pretrained model and k ≤ 16).
 */
export function analysesSettingsOf(cfg: SoupConfig, k: number): AnalysesSettings {
  const defaults = defaultAnalysesSettings(k, cfg.pretrained !== undefined);
  const a = cfg.analyses ?? {};
  return { ...defaults, run: a.run ?? defaults.run, maxPairs: a.maxPairs ?? defaults.maxPairs, learnedBudget: a.learnedBudget ?? defaults.learnedBudget };
}

/**
 * Analyses: runs `settings.run` on the cooked soup and returns the report's `analyses`
 * (undefined when none is asked for). A configured pretrained model that could not be read, or
 * that is a checkpoint rather than an ONNX model, skips WiSE-FT and angles with the reason, as a
 * missing one does.
 */
export async function analyseSoup(
  settings: AnalysesSettings,
  chosen: ChosenIngredients,
  setup: EvaluationSetup,
  evaluation: IngredientEvaluation,
  soup: CookedSoup,
  run: PhaseRun,
): Promise<Analyses | undefined> {
  if (settings.run.length === 0) return undefined;
  const { pretrained } = chosen.scan;
  const pretrainedModel = chosen.inspected.pretrainedModel;
  const skipped: SkippedAnalysis[] = [];
  let wanted = settings;
  if (pretrained && !pretrainedModel) {
    const reason = pretrained.reason
      ? `the pretrained model ${pretrained.id} could not be read: ${pretrained.reason}`
      : `the pretrained model ${pretrained.id} is a checkpoint: WiSE-FT and angles need an ONNX pretrained model for now`;
    for (const id of ['wiseft', 'angles'] as const) if (settings.run.includes(id)) skipped.push({ id, reason });
    wanted = { ...settings, run: settings.run.filter((id) => id !== 'wiseft' && id !== 'angles') };
  }
  const analyses = await runAnalyses({
    evaluator: setup.evaluator,
    datasets: setup.datasets,
    ingredients: chosen.ingredients.map((i) => ({ id: i.id, model: i.model })),
    pretrained: pretrainedModel,
    soup: { members: soup.outcome.members, weights: soup.outcome.weights },
    bestIndividual: evaluation.bestIndividual.members[0],
    book: evaluation.book,
    soupLogits: soup.soupLogits,
    ensemble: evaluation.logitEnsemble,
    settings: wanted,
    signal: run.signal,
    onProgress: (done, total, message) => run.progress(done, total, message),
  });
  analyses.skipped.unshift(...skipped);
  return analyses;
}
