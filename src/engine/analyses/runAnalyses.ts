import { SoupError, throwIfAborted } from '../errors';
import type { EvalDataset } from '../datasets/evalDataset';
import type { Evaluator } from '../evaluate/evaluator';
import { exampleStatsOf } from '../evaluate/exampleStats';
import type { LogitEnsemble } from '../evaluate/metrics';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { StreamingMean } from '../soups/streamingMean';
import type { WeightSet } from '../soups/weights';
import { allocWeightSet } from '../soups/weightArena';
import { checkSameLayout, loadWeights } from '../soups/weights';
import { angleGainCorrelations, directionGram, evaluatePairSoups, pairGeometry, selectPairs } from './angles';
import { calibrationOf, calibrationShiftAverage, ECE_BINS } from './calibration';
import { greedyStart, learnSoup } from './learnedSoup';
import type { ModelEvaluation } from './modelEvaluation';
import { CostMeter, EvaluationBook, evaluateModel, perDataset, shiftAvgAcc } from './modelEvaluation';
import type { AnalysesSettings } from './settings';
import type { DatasetLogits } from './temperature';
import { temperatureScaling } from './temperature';
import type { Analyses, AnglesAnalysis, CalibrationAnalysis, LearnedSoupAnalysis, ModelCalibration, WiseFtAnalysis } from './types';
import { WISE_FT_ALPHAS, wiseFtCurve } from './wiseFt';

/** Book names of the models that are not ingredients. */
export const SOUP = 'soup';
export const UNIFORM = 'uniform';
export const ENSEMBLE = 'ensemble';
export const PRETRAINED = 'pretrained';

/** The note every learned soup carries. */
export const LEARNED_NOTE = 'Learned soups are fitted on the held-out set: their held-out numbers are optimistic. Test and shift accuracies are the honest measures.';

/** What the analyses of one cooked soup need. */
export interface AnalysesInput {
  /** The cook's session (any model of the architecture is evaluated by feeding its weights). */
  evaluator: Evaluator;
  /** Every dataset of the cook (`heldout`, `test`, shifts), checked against the model. */
  datasets: EvalDataset[];
  /** The ingredients, in the cook's order (sorted by held-out accuracy, best first). */
  ingredients: { id: string; model: OnnxModelInfo }[];
  /** θ0 for WiSE-FT and the fine-tuning directions. */
  pretrained?: OnnxModelInfo;
  /** The cooked soup: its members (in the order added) and its weights (only read). */
  soup: { members: string[]; weights: WeightSet };
  /** Id of the best individual ingredient (highest measured held-out accuracy). */
  bestIndividual: string;
  /**
   * The cook's own passes recorded by name (each ingredient id, `uniform`, optionally `soup`,
   * `pretrained`): those models cost no pass here. Whatever is missing is evaluated and counted.
   */
  book?: EvaluationBook;
  /**
   * The soup's logits per dataset key, when the cook kept them from its evaluation of the soup:
   * calibration and its temperature scaling then cost no pass of the soup.
   */
  soupLogits?: Record<string, Float32Array>;
  /** The cook's logit ensemble (its sums hold every ingredient's logits): calibrated at no pass. */
  ensemble?: LogitEnsemble;
  settings: AnalysesSettings;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, message: string) => void;
}

/**
 * Runs the analyses that `settings.run` asks for on a cooked soup and returns the report's
 * `analyses` object. Weights are streamed (mixes hold one chunk per model), so memory is the soup,
 * one scratch model and the evaluator, whatever the number of ingredients. An analysis that
 * cannot run (no pretrained model, no held-out set, an incompatible pretrained model) is listed
 * in `skipped` with the reason; cancellation throws CANCELLED.
 */
export async function runAnalyses(input: AnalysesInput): Promise<Analyses> {
  const { evaluator, datasets, settings, signal } = input;
  const keys = datasets.map((d) => d.key);
  const book = input.book ?? new EvaluationBook();
  const layout = input.ingredients[0]?.model;
  if (!layout) throw new SoupError('NO_INGREDIENTS', 'the analyses need at least one ingredient');
  const heldout = datasets.find((d) => d.key === 'heldout');
  const progress = (done: number, total: number, message: string) => input.onProgress?.(done, total, message);
  const out: Analyses = { skipped: [] };
  const wants = new Set(settings.run);
  let scratch: WeightSet | undefined;
  const scratchSet = () => (scratch ??= allocWeightSet(layout));

  // The pretrained model must be of the ingredients' architecture to mix with them.
  let pretrained = input.pretrained;
  if (pretrained && (wants.has('wiseft') || wants.has('angles'))) {
    try {
      checkSameLayout(layout, pretrained);
    } catch (err) {
      const reason = `the pretrained model does not fit the ingredients: ${(err as Error).message}`;
      for (const id of ['wiseft', 'angles'] as const) if (wants.has(id)) out.skipped.push({ id, reason });
      wants.delete('wiseft');
      wants.delete('angles');
      pretrained = undefined;
    }
  }

  /** The evaluation of a named model: from the book, or one pass per dataset (counted on `meter`). */
  const evaluationOf = async (name: string, weights: () => Promise<WeightSet> | WeightSet, meter: CostMeter): Promise<ModelEvaluation> => {
    const known = book.get(name, keys);
    if (known) return known;
    const { evaluation } = await evaluateModel(evaluator, await weights(), datasets, { signal, meter });
    book.set(name, evaluation);
    return evaluation;
  };
  const evaluateWith = (meter: CostMeter) => async (w: WeightSet) => (await evaluateModel(evaluator, w, datasets, { signal, meter })).evaluation;
  const ingredientModel = new Map(input.ingredients.map((i) => [i.id, i.model]));
  const ingredientEvaluation = (id: string, meter: CostMeter) => evaluationOf(id, () => loadWeights(ingredientModel.get(id) as OnnxModelInfo, scratchSet()), meter);
  const pretrainedEvaluation = (meter: CostMeter) => evaluationOf(PRETRAINED, () => loadWeights(pretrained as OnnxModelInfo, scratchSet()), meter);

  // --- calibration
  if (wants.has('calibration')) {
    throwIfAborted(signal);
    const meter = new CostMeter();
    progress(0, 1, 'calibration');
    const models: Record<string, ModelCalibration> = {};
    const add = (name: string, e: ModelEvaluation) => (models[name] = { datasets: e, shiftAvg: calibrationShiftAverage(e) });
    for (const ing of input.ingredients) add(ing.id, await ingredientEvaluation(ing.id, meter));
    // Temperature scaling needs the soup's logits (one model's only): the cook's, or one more pass.
    const given = input.soupLogits;
    const soupPass =
      given && keys.every((k) => given[k])
        ? { logits: given, evaluation: Object.fromEntries(datasets.map((ds) => [ds.key, calibrationOf(exampleStatsOf(given[ds.key], given[ds.key].length / ds.n, ds.y, 1, ds.subset), ds.y)])) }
        : await evaluateModel(evaluator, input.soup.weights, datasets, { signal, meter, keepLogits: true });
    book.set(SOUP, soupPass.evaluation);
    add(SOUP, soupPass.evaluation);
    add(UNIFORM, await evaluationOf(UNIFORM, () => new StreamingMean().mean(input.ingredients.map((i) => i.model), { out: scratchSet(), signal }), meter));
    if (pretrained) add(PRETRAINED, await pretrainedEvaluation(meter));
    const temperature = [];
    const withLogits = (get: (ds: EvalDataset) => { logits: ArrayLike<number>; classes: number } | undefined): DatasetLogits[] =>
      datasets.flatMap((ds) => {
        const l = get(ds);
        return l ? [{ key: ds.key, logits: l.logits, classes: l.classes, labels: ds.y, subset: ds.subset }] : [];
      });
    const classesOf = (l: Float32Array, ds: EvalDataset) => l.length / ds.n;
    const soupLogits = withLogits((ds) => ({ logits: soupPass.logits[ds.key], classes: classesOf(soupPass.logits[ds.key], ds) }));
    if (heldout) temperature.push(temperatureScaling(SOUP, soupLogits));
    const ensembleLogits = input.ensemble ? withLogits((ds) => input.ensemble?.meanLogits(ds)) : [];
    if (ensembleLogits.length === datasets.length) {
      add(ENSEMBLE, Object.fromEntries(ensembleLogits.map((d) => [d.key, calibrationOf(exampleStatsOf(d.logits, d.classes, d.labels, 1, d.subset), d.labels)])));
      if (heldout) temperature.push(temperatureScaling(ENSEMBLE, ensembleLogits));
    }
    const calibration: CalibrationAnalysis = {
      settings: { bins: ECE_BINS, binRule: 'b = min(floor(conf * 15), 14), conf = max softmax probability (float64)', temperatureModels: temperature.map((t) => t.model) },
      models,
      bestIndividual: input.bestIndividual,
      temperature,
      cost: meter.cost(),
    };
    out.calibration = calibration;
  }

  // --- WiSE-FT
  if (wants.has('wiseft')) {
    if (!pretrained) out.skipped.push({ id: 'wiseft', reason: 'no pretrained model is configured ("pretrained" in modelsoups.json)' });
    else {
      const meter = new CostMeter();
      const theta0 = pretrained;
      const atZero = await pretrainedEvaluation(meter);
      const soupEval = await evaluationOf(SOUP, () => input.soup.weights, meter);
      const best = input.bestIndividual;
      const bestEval = await ingredientEvaluation(best, meter);
      const total = 2 * WISE_FT_ALPHAS.length;
      let done = 0;
      const curves = [];
      for (const [endpoint, end, atOne] of [
        [SOUP, input.soup.weights, soupEval],
        [best, ingredientModel.get(best) as OnnxModelInfo, bestEval],
      ] as const) {
        curves.push(
          await wiseFtCurve({
            layout,
            theta0,
            end,
            endpoint,
            evaluate: evaluateWith(meter),
            atZero,
            atOne,
            scratch: scratchSet(),
            meter,
            signal,
            onPoint: (alpha) => progress(++done, total, `WiSE-FT ${endpoint === SOUP ? 'soup' : endpoint}: α = ${alpha.toFixed(1)}`),
          }),
        );
      }
      const wiseFt: WiseFtAnalysis = { settings: { alphas: [...WISE_FT_ALPHAS], pretrained: pretrained.path }, curves, cost: meter.cost() };
      out.wiseFt = wiseFt;
    }
  }

  // --- angles between fine-tuning directions, and the 2-soup gains
  if (wants.has('angles')) {
    if (!pretrained) out.skipped.push({ id: 'angles', reason: 'no pretrained model is configured ("pretrained" in modelsoups.json)' });
    else if (input.ingredients.length < 2) out.skipped.push({ id: 'angles', reason: 'angles need at least two ingredients' });
    else {
      const meter = new CostMeter();
      const ids = input.ingredients.map((i) => i.id);
      progress(0, 1, `angles: directions of ${ids.length} ingredients`);
      const g = await directionGram(
        layout,
        pretrained,
        input.ingredients.map((i) => i.model),
        signal,
      );
      const pairs = pairGeometry(ids, g);
      const selected = selectPairs(pairs, settings.maxPairs);
      const individual = new Map<string, ModelEvaluation>();
      for (const id of new Set(selected.flatMap((p) => [pairs[p].i, pairs[p].j]))) individual.set(id, await ingredientEvaluation(id, meter));
      await evaluatePairSoups(pairs, selected, ingredientModel, (id) => individual.get(id) as ModelEvaluation, evaluateWith(meter), {
        scratch: scratchSet(),
        meter,
        signal,
        onPair: (done, total, p) => progress(done, total, `2-soup ${p.i} + ${p.j}: angle ${p.angleDeg.toFixed(1)}°`),
      });
      const k = ids.length;
      const angleMatrix = Array.from({ length: k * k }, (_, x) => {
        const i = Math.floor(x / k);
        const j = x % k;
        if (i === j) return 0;
        const [a, b] = i < j ? [i, j] : [j, i];
        return pairs[a * k - (a * (a + 1)) / 2 + (b - a - 1)].angleDeg;
      });
      const angles: AnglesAnalysis = {
        settings: { maxPairs: settings.maxPairs, pretrained: pretrained.path, selection: selected.length === pairs.length ? 'all pairs' : 'evenly spaced in order of angle' },
        ids,
        l2ToPretrained: Object.fromEntries(ids.map((id, i) => [id, Math.sqrt(g.gram[i * k + i])])),
        angleMatrix,
        pairs,
        pairsTotal: pairs.length,
        pairsEvaluated: selected.length,
        correlation: angleGainCorrelations(pairs, ['heldout', 'test', 'shiftAvg']),
        cost: meter.cost(),
      };
      out.angles = angles;
    }
  }

  // --- learned soup
  if (wants.has('learned')) {
    if (!heldout) out.skipped.push({ id: 'learned', reason: 'a learned soup is fitted on the held-out set: set "datasets.heldout" in modelsoups.json' });
    else {
      const meter = new CostMeter();
      const soupEval = await evaluationOf(SOUP, () => input.soup.weights, meter);
      const fromGreedy = settings.learnedStart === 'greedy';
      const startEval = fromGreedy ? soupEval : await evaluationOf(UNIFORM, () => new StreamingMean().mean(input.ingredients.map((i) => i.model), { out: scratchSet(), signal }), meter);
      const floorCorrect = fromGreedy ? soupEval.heldout.correct : undefined;
      const found = await learnSoup({
        ingredients: input.ingredients,
        start: fromGreedy ? greedyStart(input.ingredients, input.soup.members) : input.ingredients.map(() => 0),
        budget: settings.learnedBudget,
        floorCorrect,
        evaluateHeldout: async (w) => {
          meter.weightMixes++;
          const h = (await evaluateModel(evaluator, w, [heldout], { signal, meter })).evaluation.heldout;
          return { nll: h.nll, correct: h.correct };
        },
        scratch: scratchSet(),
        signal,
        onEvaluation: (used, budget, best) => progress(used, budget, `learned soup: ${used}/${budget} — held-out NLL ${best.nll.toFixed(4)}`),
      });
      if (floorCorrect !== undefined && found.score.correct < floorCorrect) {
        // learnSoup only accepts moves at or above the floor, and its start is the greedy soup bit for bit.
        throw new SoupError('EVALUATION_FAILED', `learned soup: held-out ${found.score.correct} correct is below the greedy soup's ${floorCorrect}`);
      }
      const final = (await evaluateModel(evaluator, found.soup, datasets, { signal, meter })).evaluation;
      const ids = input.ingredients.map((i) => i.id);
      const learned: LearnedSoupAnalysis = {
        settings: { budget: settings.learnedBudget, start: settings.learnedStart, initialStep: 1, minStep: 1 / 64, keepHeldoutAccuracy: fromGreedy },
        note: LEARNED_NOTE,
        parameterOrder: ids,
        logits: Object.fromEntries(ids.map((id, k) => [id, found.z[k] === -Infinity ? null : found.z[k]])),
        weights: Object.fromEntries(ids.map((id, k) => [id, found.weights[k]])),
        evaluationsUsed: found.evaluationsUsed,
        sweeps: found.sweeps,
        finalStep: found.finalStep,
        heldoutNll: found.score.nll,
        heldoutCorrect: found.score.correct,
        floorCorrect,
        trace: found.trace,
        correct: perDataset(final, (c) => c.correct),
        acc: perDataset(final, (c) => c.acc),
        shiftAvgAcc: shiftAvgAcc(final),
        nll: perDataset(final, (c) => c.nll),
        ece: perDataset(final, (c) => c.ece),
        start: { correct: perDataset(startEval, (c) => c.correct), shiftAvgAcc: shiftAvgAcc(startEval), heldoutNll: startEval.heldout.nll },
        cost: meter.cost(),
      };
      out.learned = learned;
    }
  }
  return out;
}
