/**
 * The result types of the soup analyses (issue 11): what `report.json` schema @2 holds under
 * `analyses`. Accuracies are fractions in [0, 1]; dataset keys are `heldout`, `test` and the
 * shift names; every "shift average" is the unweighted mean of the per-shift values.
 */

/** The analyses that can run. */
export type AnalysisId = 'calibration' | 'wiseft' | 'angles' | 'learned';

/** What every analysis reports about its own cost. */
export interface AnalysisCost {
  /** Wall time, milliseconds. */
  ms: number;
  /** Passes over one dataset (one model on one dataset) this analysis ran itself. */
  forwardPasses: number;
  /** Weight mixes it computed (WiSE-FT points, 2-soups, learned candidates). */
  weightMixes: number;
}

/** One row of a reliability diagram: the examples whose confidence is in [lo, hi). */
export interface ReliabilityBin {
  bin: number;
  lo: number;
  hi: number;
  count: number;
  correct: number;
  confSum: number;
  /** Mean confidence; null for an empty bin. */
  meanConf: number | null;
  /** Accuracy; null for an empty bin. */
  acc: number | null;
}

/** Calibration figures of one model, on one dataset or averaged over the shifts. */
export interface CalibrationSummary {
  acc: number;
  /** Expected calibration error, 15 equal-width bins. */
  ece: number;
  /** Maximum calibration error over the non-empty bins. */
  mce: number;
  /** Mean negative log-likelihood of the label (natural log). */
  nll: number;
  /** Mean Brier score, sum over classes of (p − onehot)², in [0, 2]. */
  brier: number;
  meanConfidence: number;
}

/** Calibration of one model on one dataset. */
export interface DatasetCalibration extends CalibrationSummary {
  n: number;
  correct: number;
  reliability: ReliabilityBin[];
}

/** Calibration of one model: per dataset and the shift average. */
export interface ModelCalibration {
  datasets: Record<string, DatasetCalibration>;
  shiftAvg?: CalibrationSummary;
}

/** One dataset before and after temperature scaling. */
export interface TemperatureDataset {
  /** Unchanged by the temperature. */
  acc: number;
  eceBefore: number;
  eceAfter: number;
  nllBefore: number;
  nllAfter: number;
  brierBefore: number;
  brierAfter: number;
  reliabilityAfter: ReliabilityBin[];
}

/** Temperature scaling of one model, fitted on held-out NLL. */
export interface TemperatureScaling {
  /** The model scaled (`soup`, `ensemble`, ...). */
  model: string;
  T: number;
  logT: number;
  heldoutNllAtT: number;
  search: { method: 'golden-section on u = log T'; boundsLogT: [number, number]; tolLogT: number; evaluations: number };
  datasets: Record<string, TemperatureDataset>;
  shiftAvg?: { eceBefore: number; eceAfter: number; nllBefore: number; nllAfter: number; brierBefore: number; brierAfter: number };
}

/** `analyses.calibration`. */
export interface CalibrationAnalysis {
  settings: { bins: number; binRule: string; temperatureModels: string[] };
  /**
   * Model name -> calibration. Names: each ingredient id, `soup`, `uniform`, `ensemble` (softmax
   * of the mean logits), `pretrained`; `bestIndividual` names the ingredient that is the best individual.
   */
  models: Record<string, ModelCalibration>;
  bestIndividual?: string;
  temperature: TemperatureScaling[];
  cost: AnalysisCost;
}

/** One WiSE-FT interpolation point. */
export interface WiseFtPoint {
  alpha: number;
  correct: Record<string, number>;
  acc: Record<string, number>;
  shiftAvgAcc?: number;
  nll: Record<string, number>;
  ece: Record<string, number>;
}

/** The best alpha for one measure (the smallest alpha on ties). */
export interface BestAlpha {
  alpha: number;
  value: number;
}

/** The WiSE-FT curve of one endpoint. */
export interface WiseFtCurve {
  /** `soup` or the best individual's id. */
  endpoint: string;
  points: WiseFtPoint[];
  /** Keys: `heldout`, `test`, `shiftAvg` and each shift name. */
  bestAlpha: Record<string, BestAlpha>;
}

/** `analyses.wiseFt`: θ(α) = (1 − α)·θ0 + α·θ, float64 then float32. */
export interface WiseFtAnalysis {
  settings: { alphas: number[]; pretrained: string };
  curves: WiseFtCurve[];
  cost: AnalysisCost;
}

/** One pair of ingredients: the angle between their fine-tuning directions and, if evaluated, their 2-soup. */
export interface AnglePair {
  i: string;
  j: string;
  cos: number;
  angleDeg: number;
  /** ||θi − θj||₂. */
  l2: number;
  /** The uniform 2-soup (θi + θj)/2; absent when the pair was not evaluated (the cap). */
  soup?: {
    correct: Record<string, number>;
    acc: Record<string, number>;
    shiftAvgAcc?: number;
    /** acc(soup) − (acc_i + acc_j)/2 per dataset, plus `shiftAvg` (the mean of the shift gains). */
    gain: Record<string, number>;
  };
}

/** Pearson and Spearman correlation of the angle with a gain. */
export interface Correlation {
  pearson: number;
  spearman: number;
  n: number;
}

/** `analyses.angles`. */
export interface AnglesAnalysis {
  settings: { maxPairs: number; pretrained: string; selection: string };
  /** The ingredients in matrix order. */
  ids: string[];
  /** ||θi − θ0||₂ per ingredient. */
  l2ToPretrained: Record<string, number>;
  /** Angles in degrees, row-major [ids × ids] (0 on the diagonal). */
  angleMatrix: number[];
  /** Every pair i < j in `ids` order. */
  pairs: AnglePair[];
  pairsTotal: number;
  pairsEvaluated: number;
  /** Angle vs gain over the evaluated pairs, for `heldout`, `test` and `shiftAvg` (absent with fewer than 3 pairs). */
  correlation: Record<string, Correlation>;
  cost: AnalysisCost;
}

/** An accepted move of the compass search (the first entry is the start). */
export interface LearnedTraceEntry {
  evaluation: number;
  nll: number;
  heldoutCorrect: number;
  /** The step of the move; null for the start. */
  step: number | null;
}

/** `analyses.learned`: mixing weights softmax(z) fitted on held-out NLL by compass search. */
export interface LearnedSoupAnalysis {
  settings: { budget: number; start: 'greedy' | 'uniform'; initialStep: number; minStep: number; keepHeldoutAccuracy: boolean };
  /** Held-out numbers of a learned soup are optimistic: it was fitted on them. */
  note: string;
  /** Ingredient order of z. */
  parameterOrder: string[];
  /** z per ingredient; null for an ingredient left out (weight exactly 0). */
  logits: Record<string, number | null>;
  weights: Record<string, number>;
  evaluationsUsed: number;
  sweeps: number;
  finalStep: number;
  heldoutNll: number;
  heldoutCorrect: number;
  /** The held-out correct count no accepted move may go below (the start's), when kept. */
  floorCorrect?: number;
  trace: LearnedTraceEntry[];
  /** The learned soup on every dataset. */
  correct: Record<string, number>;
  acc: Record<string, number>;
  shiftAvgAcc?: number;
  nll: Record<string, number>;
  ece: Record<string, number>;
  /** The start for comparison (the greedy soup or the uniform soup). */
  start: { correct: Record<string, number>; shiftAvgAcc?: number; heldoutNll: number };
  cost: AnalysisCost;
}

/** An analysis that was asked for but could not run, and why. */
export interface SkippedAnalysis {
  id: AnalysisId;
  reason: string;
}

/** `report.analyses` (schema @2). */
export interface Analyses {
  calibration?: CalibrationAnalysis;
  wiseFt?: WiseFtAnalysis;
  angles?: AnglesAnalysis;
  learned?: LearnedSoupAnalysis;
  skipped: SkippedAnalysis[];
}
