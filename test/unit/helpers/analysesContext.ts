import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import type { AnalysesInput } from '../../../src/engine/analyses/runAnalyses';
import { ENSEMBLE, PRETRAINED, SOUP, UNIFORM } from '../../../src/engine/analyses/runAnalyses';
import type { CalibrationAnalysis, DatasetCalibration, ModelCalibration } from '../../../src/engine/analyses/types';
import type { AnalysesSettings } from '../../../src/engine/analyses/settings';
import { defaultAnalysesSettings } from '../../../src/engine/analyses/settings';
import type { ModelEvaluation } from '../../../src/engine/analyses/modelEvaluation';
import { EvaluationBook, recordPasses } from '../../../src/engine/analyses/modelEvaluation';
import type { EvalDataset } from '../../../src/engine/datasets/evalDataset';
import { openArrayFiles } from '../../../src/engine/datasets/arrayFiles';
import { Evaluator } from '../../../src/engine/evaluate/evaluator';
import { LogitEnsemble } from '../../../src/engine/evaluate/metrics';
import type { OnnxModelInfo } from '../../../src/engine/formats/onnxModel';
import { readOnnxModel } from '../../../src/engine/formats/onnxModel';
import { StreamingMean } from '../../../src/engine/soups/streamingMean';
import type { WeightSet } from '../../../src/engine/soups/weights';
import { expected } from './expected';
import { ANALYSES_FILE, EXAMPLE } from './paths';

type Counts = Record<string, number>;

/** One model's calibration in analyses.json. */
export interface RefCalibration {
  n: number;
  correct: number;
  acc: number;
  ece: number;
  mce: number;
  nll: number;
  brier: number;
  mean_confidence: number;
  min_conf_distance_to_bin_edge: number;
  reliability: { bin: number; count: number; correct: number; conf_sum: number }[];
}

export interface RefTemperature {
  T: number;
  heldout_nll_at_T: number;
  search: { n_evals: number };
  per_dataset: Record<string, { acc: number; ece_before: number; ece_after: number; nll_before: number; nll_after: number; brier_before: number; brier_after: number }>;
}

export interface RefWiseFt {
  endpoint: string;
  points: { alpha: number; correct: Counts; shift_avg_acc: number; nll: Counts; ece: Counts }[];
  best_alpha: Record<string, { alpha: number; value: number }>;
}

export interface RefPair {
  i: string;
  j: string;
  cos: number;
  angle_deg: number;
  l2_i_j: number;
  any_bad_lr: boolean;
  soup_correct: Counts;
  gain: Counts;
}

/** The parts of analyses.json (the PyTorch reference) the tests compare against. */
export interface AnalysesReference {
  eval_order: string[];
  ingredients: string[];
  calibration: {
    models: Record<string, Record<string, RefCalibration> & { shift_avg: Omit<RefCalibration, 'n' | 'correct' | 'reliability' | 'min_conf_distance_to_bin_edge'> }>;
    temperature_scaling: { greedy_soup: RefTemperature };
    temperature_scaling_other_models: Record<string, RefTemperature>;
  };
  wise_ft: { alphas: number[]; greedy_soup: RefWiseFt; best_individual: RefWiseFt };
  pairwise: {
    l2_to_theta0: Record<string, number>;
    pairs: RefPair[];
    correlation_angle_vs_gain: Record<string, Record<string, { pearson: number; spearman: number }>>;
  };
  learned_soup: {
    parameter_order: string[];
    derivative_free: { trace_improvements: { eval: number; nll: number; heldout_correct: number; step: number | null }[] };
    reference: { greedy_soup: { heldout_nll: number } };
  };
}

export const reference = JSON.parse(readFileSync(ANALYSES_FILE, 'utf8')) as AnalysesReference;

/** The example zoo's models (read, not evaluated). */
export interface ExampleModels {
  /** Sorted by held-out accuracy, best first (the cook's order). */
  ingredients: { id: string; model: OnnxModelInfo }[];
  pretrained: OnnxModelInfo;
  greedyMembers: string[];
  /** The greedy soup (bit-identical to the PyTorch reference soup). */
  greedyWeights: WeightSet;
  bestIndividual: string;
}

/** The example zoo as a cook sees it after evaluating every ingredient once per dataset. */
export interface AnalysesContext extends ExampleModels {
  evaluator: Evaluator;
  datasets: EvalDataset[];
  /** Every ingredient's passes, recorded as a cook records them. */
  book: EvaluationBook;
  /** A new book holding only the ingredients' passes (so each test's costs are its own). */
  freshBook(): EvaluationBook;
  ensemble: LogitEnsemble;
}

let models: Promise<ExampleModels> | undefined;
let shared: Promise<AnalysesContext> | undefined;

/**
 * Built once per test process and shared by every analyses test: one session, the seven
 * datasets, and one pass of each of the 12 ingredients per dataset (per-example stats into the
 * book, logits into the ensemble), as the cook's evaluate phase does.
 */
export function analysesContext(): Promise<AnalysesContext> {
  shared ??= build();
  return shared;
}

/** The example's models and greedy soup, read once per test process (no inference). */
export function exampleModels(): Promise<ExampleModels> {
  models ??= (async () => {
    const ingredients = await Promise.all(expected.sorted_by_heldout.map(async (id) => ({ id, model: await readOnnxModel(path.join(EXAMPLE, id, 'model.onnx')) })));
    const greedyMembers = expected.greedy_soup.members;
    const greedyWeights = await new StreamingMean().mean(greedyMembers.map((id) => ingredients.find((i) => i.id === id)?.model as OnnxModelInfo));
    return { ingredients, pretrained: await readOnnxModel(path.join(EXAMPLE, exampleConfig().pretrained)), greedyMembers, greedyWeights, bestIndividual: expected.sorted_by_heldout[0] };
  })();
  return models;
}

function exampleConfig(): { datasets: { heldout: string; test: string; shifts: Record<string, string> }; pretrained: string } {
  return JSON.parse(readFileSync(path.join(EXAMPLE, 'modelsoups.json'), 'utf8')) as ReturnType<typeof exampleConfig>;
}

async function build(): Promise<AnalysesContext> {
  const m = await exampleModels();
  const config = exampleConfig();
  const files: Record<string, string> = { heldout: config.datasets.heldout, test: config.datasets.test, ...config.datasets.shifts };
  const { ingredients } = m;
  const evaluator = await Evaluator.create(ingredients[0].model, { batchSize: 1000 });
  const datasets: EvalDataset[] = [];
  for (const key of reference.eval_order) {
    const ds = await openArrayFiles(key, files[key], EXAMPLE);
    evaluator.checkDataset(ds);
    datasets.push(ds);
  }
  const book = new EvaluationBook();
  const ensemble = new LogitEnsemble();
  await recordPasses(evaluator, datasets, ingredients, book, { ensemble });
  return {
    ...m,
    evaluator,
    datasets,
    book,
    freshBook: () => {
      const b = new EvaluationBook();
      for (const ing of ingredients) b.set(ing.id, book.get(ing.id) as ModelEvaluation);
      return b;
    },
    ensemble,
  };
}

/** The input of {@link runAnalyses} for the example: the greedy soup, a fresh book, `settings`. */
export function analysesInput(ctx: AnalysesContext, settings: Partial<AnalysesSettings>): AnalysesInput {
  return {
    evaluator: ctx.evaluator,
    datasets: ctx.datasets,
    ingredients: ctx.ingredients,
    pretrained: ctx.pretrained,
    soup: { members: ctx.greedyMembers, weights: ctx.greedyWeights },
    bestIndividual: ctx.bestIndividual,
    book: ctx.freshBook(),
    ensemble: ctx.ensemble,
    settings: { ...defaultAnalysesSettings(ctx.ingredients.length, true), ...settings },
  };
}

/** Our model names for the reference's. */
const NAMES: Record<string, string> = { greedy_soup: SOUP, uniform_soup: UNIFORM, ensemble_logits_mean: ENSEMBLE, pretrained: PRETRAINED };

/**
 * Asserts that every model of the reference (ingredients, greedy soup, uniform soup, logit
 * ensemble, pretrained) has the reference's counts, ECE, NLL and Brier on every dataset within
 * 1e-6 (ECE within 2/N where a confidence lies within 1e-6 of a bin edge), and the same shift
 * averages. Returns the number of (model, dataset) pairs compared.
 */
export function assertCalibrationMatchesReference(cal: CalibrationAnalysis): number {
  let compared = 0;
  for (const [refName, ref] of Object.entries(reference.calibration.models)) {
    if (refName === 'ensemble_softmax_mean') continue;
    const ours: ModelCalibration | undefined = cal.models[NAMES[refName] ?? refName];
    assert.ok(ours, `no calibration for ${refName}`);
    for (const key of reference.eval_order) {
      const r = ref[key] as RefCalibration;
      const o: DatasetCalibration = ours.datasets[key];
      const where = `${refName} on ${key}`;
      assert.equal(o.n, r.n, where);
      assert.equal(o.correct, r.correct, where);
      const nearEdge = r.min_conf_distance_to_bin_edge < 1e-6;
      assert.ok(Math.abs(o.ece - r.ece) <= (nearEdge ? 2 / r.n + 1e-6 : 1e-6), `${where}: ECE ${o.ece} vs ${r.ece}`);
      assert.ok(Math.abs(o.nll - r.nll) <= 1e-6, `${where}: NLL ${o.nll} vs ${r.nll}`);
      assert.ok(Math.abs(o.brier - r.brier) <= 1e-6, `${where}: Brier ${o.brier} vs ${r.brier}`);
      assert.ok(Math.abs(o.meanConfidence - r.mean_confidence) <= 1e-6, where);
      if (!nearEdge) {
        assert.deepEqual(o.reliability.map((b) => [b.count, b.correct]), r.reliability.map((b) => [b.count, b.correct]), where);
        assert.ok(Math.abs(o.mce - r.mce) <= 1e-5, `${where}: MCE ${o.mce} vs ${r.mce}`);
      }
      compared++;
    }
    const sa = ref.shift_avg;
    assert.ok(ours.shiftAvg);
    assert.ok(Math.abs(ours.shiftAvg.nll - sa.nll) <= 1e-6 && Math.abs(ours.shiftAvg.brier - sa.brier) <= 1e-6 && Math.abs(ours.shiftAvg.ece - sa.ece) <= 1e-6, `${refName} shift average`);
  }
  return compared;
}
