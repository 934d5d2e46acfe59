// The phases of a cook, in order, each a function a test can call on its own: choose the
// ingredients, load the evaluation, fingerprint the inputs, evaluate the ingredients, cook the
// soup, verify the inputs are unchanged, build the report, write the soup. cookSoup.ts chains
// them around a PhaseClock.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { mapGraphToCheckpoint } from './checkpoints/graphMapping';
import type { CheckpointTable } from './checkpoints/checkpointTable';
import { GraphSpace } from './checkpoints/graphSpace';
import { writeSoupCheckpoint } from './checkpoints/soupCheckpoint';
import { roundAsStored, storedDtypesOf, storedMean } from './checkpoints/storedPrecision';
import type { DatasetEntry, SoupConfig } from './config';
import { configValueAt } from './config';
import type { EvalDataset } from './datasets/evalDataset';
import type { LabelMap } from './datasets/labelMap';
import { openDatasets } from './datasets/openDatasets';
import type { CookPlan } from './cookPlan';
import type { InspectedWorkspace } from './discovery/scanWorkspace';
import { inspectWorkspace } from './discovery/scanWorkspace';
import { openEvaluator, pickIngredients } from './chooseIngredients';
import type { WorkspaceScan } from './discovery/scanResult';
import { SoupError, throwIfAborted } from './errors';
import type { Evaluator } from './evaluate/evaluator';
import { LogitEnsemble, metricsFromCorrect } from './evaluate/metrics';
import type { OnnxModelInfo } from './formats/onnxModel';
import { writePatchedModel } from './formats/onnxWrite';
import type { Baseline, DatasetInfo, IngredientReport, Metrics, SoupReport } from './report';
import { recordedConfig, REPORT_FILE, REPORT_SCHEMA, SOUP_MODEL_FILE, SOUP_WEIGHTS_FILE } from './report';
import type { SoupMethodDescriptor } from './soups/catalogue';
import type { HeldoutScorer, MethodOptionValue, SoupIngredient, SoupMethod, SoupOutcome } from './soups/method';
import type { WeightSet } from './soups/weights';
import { allocWeightSet } from './soups/weightArena';
import { loadWeights } from './soups/weights';
import { removeStaleTemps, writeAtomically } from './soupOutput';
import { evaluateModel, type EvaluationBook } from './analyses/modelEvaluation';
import type { ExampleStats } from './evaluate/exampleStats';
import type { Analyses } from './analyses/types';
import { formatPercent } from '../shared/format';

/** Where a phase reports to and what cancels it. */
export interface PhaseRun {
  signal?: AbortSignal;
  progress(done: number, total: number, message: string): void;
}

/** The scan phase's result: the workspace's runs and the ones the soup is cooked from. */
export interface ChosenIngredients {
  /** Absolute workspace path. */
  workspace: string;
  scan: WorkspaceScan;
  /** The scan with the parsed models, for the load phase. */
  inspected: InspectedWorkspace;
  /**
   * In the scan's order (best held-out first); never empty. The load phase replaces it when
   * onnxruntime refuses the first architecture's graph (see {@link loadEvaluation}).
   */
  ingredients: SoupIngredient[];
  /** Set by {@link enterGraphSpace} when checkpoint ingredients are cooked; the cook closes it. */
  graphSpace?: GraphSpace;
}

/**
 * Scan and choose: finds the runs, keeps the usable ones (or the plan's, each of which must be
 * usable) and checks that the method's needs are configured. Throws NO_INGREDIENTS or
 * CONFIG_INVALID.
 */
export async function chooseIngredients(plan: CookPlan, method: SoupMethodDescriptor, run: PhaseRun): Promise<ChosenIngredients> {
  const workspace = path.resolve(plan.workspace);
  run.progress(0, 1, 'scanning runs');
  const inspected = await inspectWorkspace(workspace, plan.config, { signal: run.signal });
  return chooseFromInspected(plan, method, inspected);
}

/** {@link chooseIngredients} for a workspace already inspected. */
export function chooseFromInspected(plan: CookPlan, method: SoupMethodDescriptor, inspected: InspectedWorkspace): ChosenIngredients {
  const workspace = path.resolve(plan.workspace);
  const chosen = pickIngredients(inspected.scan, plan.ingredients, workspace);
  if (method.needs.heldout && !plan.config.datasets.heldout) {
    throw new SoupError('CONFIG_INVALID', `${method.label} needs a held-out dataset: set "datasets.heldout" in modelsoups.json`, path.join(workspace, 'modelsoups.json'));
  }
  const ingredients = chosen.map((r): SoupIngredient => ({ id: r.id, model: inspected.models.get(r.id) as OnnxModelInfo, heldout: r.heldout as number }));
  return { workspace, scan: inspected.scan, inspected, ingredients };
}

/** The load phase's result: one inference session and the datasets, checked against it. */
export interface EvaluationSetup {
  evaluator: Evaluator;
  /** Held-out, test, then the shifts, as configured. The caller closes them. */
  datasets: EvalDataset[];
  /** The class order image folders were labelled with (undefined without folders). */
  labelMap?: LabelMap;
  /** Things the user should know that did not stop the cook (e.g. CUDA unavailable). */
  warnings: string[];
}

/**
 * Load: opens the session for the first ingredient's architecture and loads every configured
 * dataset into it. When onnxruntime refuses that graph, its runs are marked unreadable and
 * `chosen.ingredients` becomes the next usable group (`wanted` as in the plan). The caller
 * releases `evaluator`; on failure it is released here.
 */
export async function loadEvaluation(chosen: ChosenIngredients, cfg: SoupConfig, wanted: readonly string[] | undefined, run: PhaseRun): Promise<EvaluationSetup> {
  const { workspace } = chosen;
  const roles: [string, DatasetEntry][] = [];
  if (cfg.datasets.heldout) roles.push(['heldout', cfg.datasets.heldout]);
  if (cfg.datasets.test) roles.push(['test', cfg.datasets.test]);
  for (const [name, p] of Object.entries(cfg.datasets.shifts)) roles.push([name, p]);
  const warnings: string[] = [];
  const { ingredients, evaluator } = await openEvaluator(chosen.inspected, wanted, workspace, {
    input: cfg.model.input,
    output: cfg.model.output,
    batchSize: cfg.batchSize,
    threads: cfg.threads,
    device: cfg.device,
    onWarning: (w) => {
      warnings.push(w);
      run.progress(0, 1, `warning: ${w}`);
    },
  });
  chosen.ingredients = ingredients;
  try {
    const template = ingredients[0].model;
    const { scan } = chosen;
    // Label maps and preprocessor defaults are looked for beside the graph, the pretrained model, then the runs.
    const searchDirs = [...new Set([path.dirname(template.path), ...(scan.pretrained ? [path.dirname(scan.pretrained.path)] : []), ...scan.runs.flatMap((r) => [path.dirname(r.modelPath), path.join(workspace, r.id)])])];
    const opened = await openDatasets(roles, cfg, {
      workspace,
      inputName: evaluator.inputName,
      inputDims: evaluator.inputDims,
      modelClasses: evaluator.classes,
      searchDirs,
      signal: run.signal,
      onProgress: (key, done, total) => run.progress(done, total, `decoding ${key}: ${done}/${total} images`),
    });
    try {
      for (const ds of opened.datasets) {
        evaluator.checkDataset(ds);
        if (ds.skipped && ds.skipped.count > 0) warnings.push(`${ds.path}: ${ds.skipped.count} file(s) skipped (${ds.skipped.files.slice(0, 3).map((f) => `${f.file}: ${f.reason}`).join('; ')}${ds.skipped.count > 3 ? '; ...' : ''}); see datasets.${ds.key}.skipped in the report`);
        if (ds.emptyClasses && ds.emptyClasses.length > 0) warnings.push(`${ds.path}: class folder(s) without readable images: ${ds.emptyClasses.join(', ')}`);
      }
    } catch (err) {
      await Promise.all(opened.datasets.map((d) => d.close()));
      throw err;
    }
    return { evaluator, datasets: opened.datasets, labelMap: opened.labelMap, warnings };
  } catch (err) {
    await evaluator.release();
    throw err;
  }
}

/**
 * Graph space: when ingredients are checkpoints, maps the graph onto the reference checkpoint
 * (once per cook) and writes each checkpoint ingredient's weights as the graph's initializers
 * into the cook's private temp folder; each such ingredient's `model` becomes the graph
 * pointing there and its `checkpoint` records what was read. Sets `chosen.graphSpace` (the
 * caller closes it, which removes the temp folder); removes it itself on failure.
 */
export async function enterGraphSpace(chosen: ChosenIngredients, run: PhaseRun): Promise<void> {
  const { inspected } = chosen;
  const wanted = chosen.ingredients.filter((i) => inspected.checkpoints.has(i.id));
  if (wanted.length === 0) return;
  const graph = inspected.graph;
  if (!graph) throw new SoupError('CONFIG_INVALID', 'checkpoint ingredients need "graph": the ONNX export of the architecture', path.join(chosen.workspace, 'modelsoups.json'));
  run.progress(0, wanted.length, `mapping ${displayPath(chosen.workspace, graph.model.path)} onto ${displayPath(chosen.workspace, graph.reference.file)}`);
  const mapping = await mapGraphToCheckpoint(graph.model, graph.reference);
  const space = await GraphSpace.open(graph.model, mapping);
  chosen.graphSpace = space;
  try {
    for (const [n, ing] of wanted.entries()) {
      const table = inspected.checkpoints.get(ing.id)!;
      const g = await space.materialise(table, run.signal);
      ing.model = g.model;
      ing.checkpoint = { table, dtypes: g.dtypes };
      run.progress(n + 1, wanted.length, `read ${ing.id} (${table.table.format}, ${table.dtype})`);
    }
  } catch (err) {
    chosen.graphSpace = undefined;
    await space.close();
    throw err;
  }
}

/** Releases what the load phase opened: the datasets' files and the session. */
export async function releaseEvaluation(setup: EvaluationSetup): Promise<void> {
  await Promise.all(setup.datasets.map((d) => d.close()));
  await setup.evaluator.release();
}

/** Size, time and SHA-256 of a file as read for a cook. */
export interface FileFingerprint {
  bytes: number;
  sha256: string;
  mtimeMs: number;
}

/** The fingerprint phase's result: what {@link verifyUnchanged} compares with. */
export interface Fingerprints {
  /** Ingredient id -> its model file. */
  models: Map<string, FileFingerprint>;
  /** External data files (often gigabytes): checked by size and mtime, not re-hashed. */
  external: Map<string, { size: number; mtimeMs: number }>;
}

/** Fingerprint: hashes every ingredient's model file and stats its external data files. */
export async function fingerprintIngredients(ingredients: readonly SoupIngredient[], signal?: AbortSignal): Promise<Fingerprints> {
  const models = new Map<string, FileFingerprint>();
  const external = new Map<string, { size: number; mtimeMs: number }>();
  for (const ing of ingredients) {
    throwIfAborted(signal);
    const files = sourceFiles(ing);
    models.set(ing.id, await fingerprint(files.main));
    for (const file of files.external) external.set(file, await fsp.stat(file));
  }
  return { models, external };
}

/** The evaluate phase's result: every ingredient's metrics and the baselines made from them. */
export interface IngredientEvaluation {
  /** Ingredient id -> metrics (with correct counts per dataset key). */
  metrics: Map<string, Metrics>;
  /** Highest measured held-out accuracy; without a held-out set, the runs' own ranking. */
  bestIndividual: Baseline;
  /** The logit ensemble of every ingredient. */
  ensemble: Baseline;
  /** The last ingredient's weights: free to overwrite, so later phases allocate no model. */
  scratch?: WeightSet;
  /** The running logit sums behind `ensemble` (the analyses calibrate it at no pass). */
  logitEnsemble?: LogitEnsemble;
  /** When the analyses run: every pass's per-example statistics, by model (ingredient ids, `uniform`, `soup`). */
  book?: EvaluationBook;
}

/**
 * Evaluate: runs every ingredient once per dataset; the same logits feed the logit ensemble,
 * so the ensemble and the best individual cost no extra forward passes.
 */
export async function evaluateIngredients(ingredients: readonly SoupIngredient[], setup: EvaluationSetup, run: PhaseRun, book?: EvaluationBook): Promise<IngredientEvaluation> {
  const { evaluator, datasets } = setup;
  const heldout = datasets.find((d) => d.key === 'heldout');
  const ensemble = new LogitEnsemble();
  const metrics = new Map<string, Metrics>();
  // One set of weights for every ingredient in turn.
  let weights: WeightSet | undefined;
  for (const [i, ing] of ingredients.entries()) {
    // In a kernel arena: the means later written over these weights skip a copy (weightArena.ts).
    weights = await loadWeights(ing.model, weights ?? allocWeightSet(ing.model));
    const correct: Record<string, number> = {};
    for (const ds of datasets) {
      const r = await evaluator.run(weights, ds, { keepLogits: true, stats: book !== undefined, signal: run.signal });
      correct[ds.key] = r.correct;
      if (book) book.record(ing.id, ds, r.stats as ExampleStats);
      if (r.logits) ensemble.add(ds, r.logits);
    }
    ensemble.members++;
    metrics.set(ing.id, metricsFromCorrect(correct, datasets));
    run.progress(i + 1, ingredients.length, `evaluated ${ing.id}${heldout ? ` — held-out ${formatPercent(correct.heldout / heldout.n)}` : ''}`);
  }
  let best = ingredients[0];
  const heldoutCorrect = (ing: SoupIngredient) => metrics.get(ing.id)?.correct.heldout ?? -1;
  for (const ing of ingredients) if (heldoutCorrect(ing) > heldoutCorrect(best)) best = ing;
  const ensembleCorrect = Object.fromEntries(datasets.map((ds) => [ds.key, ensemble.correct(ds)]));
  return {
    metrics,
    bestIndividual: { members: [best.id], metrics: metrics.get(best.id) as Metrics },
    ensemble: { members: ingredients.map((i) => i.id), metrics: metricsFromCorrect(ensembleCorrect, datasets) },
    scratch: weights,
    logitEnsemble: ensemble,
    book,
  };
}

/** The soup phase's result. */
export interface CookedSoup {
  outcome: SoupOutcome;
  /** The soup's metrics on every dataset. */
  metrics: Metrics;
  /** The uniform soup of every ingredient (the soup itself for a method that produces it). */
  uniform: Baseline;
  /** The soup's logits per dataset key, kept when the evaluation has a book (the analyses' temperature scaling). */
  soupLogits?: Record<string, Float32Array>;
}

/** The values of the options `method` declares, read from the config keys it names. */
export function methodOptions(method: SoupMethodDescriptor, cfg: SoupConfig): Record<string, MethodOptionValue> {
  const out: Record<string, MethodOptionValue> = {};
  for (const o of method.options) {
    const v = configValueAt(cfg, o.configKey);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[o.name] = v;
  }
  return out;
}

/**
 * Soup: the uniform baseline first, unless the method's own soup is the uniform soup (so the
 * evaluation weights are free for the method's result), then the method, then the soup's
 * metrics on every dataset.
 */
export async function cookMethodSoup(method: SoupMethod, cfg: SoupConfig, ingredients: SoupIngredient[], setup: EvaluationSetup, evaluation: IngredientEvaluation, run: PhaseRun): Promise<CookedSoup> {
  const { evaluator, datasets } = setup;
  const { signal } = run;
  const { book } = evaluation;
  const soupLogits: Record<string, Float32Array> = {};
  // With a book, each pass also records its per-example statistics under `name` (and the soup's logits).
  const evaluateAll = async (weights: WeightSet, name: 'uniform' | 'soup'): Promise<Metrics> => {
    const correct: Record<string, number> = {};
    for (const ds of datasets) {
      const r = await evaluator.run(weights, ds, { signal, stats: book !== undefined, keepLogits: book !== undefined && name === 'soup' });
      correct[ds.key] = r.correct;
      if (book) book.record(name, ds, r.stats as ExampleStats);
      if (r.logits) soupLogits[ds.key] = r.logits;
    }
    return metricsFromCorrect(correct, datasets);
  };
  const allIds = ingredients.map((i) => i.id);
  // Checkpoint ingredients: every mean is evaluated as the soup would store it (precision rule).
  const stored = new Map(ingredients.flatMap((i) => (i.checkpoint ? [[i.model, i.checkpoint.dtypes] as const] : [])));
  const asStored = (weights: WeightSet, members: readonly SoupIngredient[]) => (stored.size > 0 ? roundAsStored(weights, storedDtypesOf(members.map((m) => m.model), stored)) : weights);
  let uniform: Baseline | undefined;
  if (!method.produces.uniformSoup) {
    run.progress(0, 1, `uniform baseline over ${allIds.length} ingredients`);
    const mean = await storedMean(ingredients.map((i) => i.model), stored, { signal, out: evaluation.scratch });
    uniform = { members: allIds, metrics: await evaluateAll(mean, 'uniform') };
  }
  const heldoutSet = datasets.find((d) => d.key === 'heldout');
  const heldout: HeldoutScorer | undefined =
    method.needs.heldout && heldoutSet
      ? {
          n: heldoutSet.n,
          correct: new Map(ingredients.flatMap((i) => {
            const c = evaluation.metrics.get(i.id)?.correct.heldout;
            return c === undefined ? [] : [[i.id, c] as const];
          })),
          score: async (w) => (await evaluator.run(w, heldoutSet, { signal })).correct,
          scoreNll: async (w) => (await evaluateModel(evaluator, w, [heldoutSet], { signal })).evaluation.heldout,
        }
      : undefined;
  const outcome = await method.cook({
    ingredients,
    options: methodOptions(method, cfg),
    heldout,
    mean: (models, out) => storedMean(models, stored, { signal, out }),
    signal,
    progress: (done, total, message) => run.progress(done, total, message),
    scratch: evaluation.scratch,
  });
  asStored(outcome.weights, ingredients.filter((i) => outcome.members.includes(i.id)));
  const metrics = await evaluateAll(outcome.weights, 'soup');
  // A uniform method's soup is the uniform soup: the analyses find it under both names.
  const soupPasses = book?.get('soup');
  if (soupPasses && !uniform) book?.set('uniform', soupPasses);
  return { outcome, metrics, uniform: uniform ?? { members: allIds, metrics }, soupLogits: book ? soupLogits : undefined };
}

/**
 * Verify unchanged: every ingredient file still has the size, time and contents it had when it
 * was fingerprinted. Throws INGREDIENT_CHANGED naming the file otherwise, so a soup is never
 * written from a mixture of old and new weights.
 */
export async function verifyUnchanged(ingredients: readonly SoupIngredient[], fingerprints: Fingerprints, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  for (const ing of ingredients) {
    const files = sourceFiles(ing);
    const before = fingerprints.models.get(ing.id);
    const st = await fsp.stat(files.main).catch(() => undefined);
    if (!before || !st || st.size !== before.bytes || st.mtimeMs !== before.mtimeMs) {
      throw new SoupError('INGREDIENT_CHANGED', 'the model file changed or disappeared during the cook; nothing was written', files.main);
    }
    // Size and mtime can be kept by a rewrite (cp -p, rsync -t, a same-size export): re-hash.
    throwIfAborted(signal);
    const now = await fingerprint(files.main).catch(() => undefined);
    if (!now || now.sha256 !== before.sha256) {
      throw new SoupError('INGREDIENT_CHANGED', 'the model file\'s contents changed during the cook (same size and time, different SHA-256); nothing was written', files.main);
    }
    for (const file of files.external) {
      const was = fingerprints.external.get(file);
      const is = await fsp.stat(file).catch(() => undefined);
      if (!was || !is || is.size !== was.size || is.mtimeMs !== was.mtimeMs) {
        throw new SoupError('INGREDIENT_CHANGED', 'this external data file changed or disappeared during the cook; nothing was written', file);
      }
    }
  }
}

/** Everything the report is built from: the results of the earlier phases. */
export interface ReportParts {
  method: SoupMethodDescriptor;
  /** The planned soup folder name (the write phase records the final one). */
  name: string;
  config: SoupConfig;
  chosen: ChosenIngredients;
  setup: EvaluationSetup;
  fingerprints: Fingerprints;
  evaluation: IngredientEvaluation;
  soup: CookedSoup;
  /** The phase clock's timings; the object is kept, so times added later are reported. */
  timings: Record<string, number>;
  /** The analyses phase's result, when any ran. */
  analyses?: Analyses;
}

/** Build report: the `report.json` contents (its `soup.path` is filled by {@link writeSoup}). */
export function buildReport(p: ReportParts): SoupReport {
  const { workspace, scan } = p.chosen;
  const { evaluator, datasets } = p.setup;
  const cfg = p.config;
  return {
    schema: REPORT_SCHEMA,
    method: p.method.id,
    name: p.name,
    createdAt: new Date().toISOString(),
    workspace,
    options: {
      ...methodOptions(p.method, cfg),
      batchSize: cfg.batchSize,
      scale: cfg.scale ?? 1,
      input: evaluator.inputName,
      output: evaluator.outputName,
      device: evaluator.device,
    },
    warnings: p.setup.warnings,
    datasets: Object.fromEntries(datasets.map((d) => [d.key, datasetInfo(workspace, d, evaluator.classes ?? p.setup.labelMap?.names.length, p.setup.labelMap?.source)])),
    shiftNames: Object.keys(cfg.datasets.shifts),
    ingredients: scan.runs.map((r): IngredientReport => {
      const fp = p.fingerprints.models.get(r.id);
      return {
        id: r.id,
        layout: r.layout,
        status: r.status,
        reason: r.reason,
        warnings: r.warnings,
        heldout: r.heldout,
        metricsSource: r.metricsSource,
        hparams: r.hparams,
        model: toPosix(path.relative(workspace, r.modelPath)),
        weights: r.weights && r.weights.format !== 'onnx' ? { file: toPosix(path.relative(workspace, r.weights.file)), format: r.weights.format, dtype: r.weights.dtype } : undefined,
        bytes: fp?.bytes,
        sha256: fp?.sha256,
        metrics: p.evaluation.metrics.get(r.id),
      };
    }),
    soup: { members: p.soup.outcome.members, path: '', metrics: p.soup.metrics, mixWeights: p.soup.outcome.mixWeights },
    steps: p.soup.outcome.steps,
    mapping: mappingReport(workspace, p.chosen.graphSpace),
    baselines: { bestIndividual: p.evaluation.bestIndividual, uniform: p.soup.uniform, ensemble: p.evaluation.ensemble },
    timingsMs: p.timings,
    analyses: p.analyses,
    recipe: { config: recordedConfig(cfg) },
  };
}

/** Where and how the write phase writes. */
export interface SoupDestination {
  workspace: string;
  /** Absolute output folder. */
  outRoot: string;
  /** The model the soup's file is a patched copy of (the graph for checkpoint soups). */
  template: OnnxModelInfo;
  weights: WeightSet;
  /** Checkpoint soups: the members' tables (first member first) and the graph space, for `model.safetensors`. */
  checkpoint?: { members: CheckpointTable[]; space: GraphSpace };
  signal?: AbortSignal;
  /** Called when the model is written, before the report is (which then holds the time). */
  onModelWritten?: () => void;
}

/**
 * Write: `soup.onnx` and `report.json` into `<outRoot>/<report.name>` (or `-2`, `-3`, ... when
 * taken) through a temp folder renamed into place. Sets the report's `name` and `soup.path` to
 * the final folder. Returns that folder.
 */
export async function writeSoup(report: SoupReport, to: SoupDestination): Promise<string> {
  await removeStaleTemps(to.outRoot);
  // The report names its own folder, so it is rewritten (atomically) if the folder's name changes.
  const writeReport = async (finalDir: string, into = finalDir) => {
    report.name = path.basename(finalDir);
    report.soup.path = toPosix(path.relative(to.workspace, path.join(finalDir, SOUP_MODEL_FILE)));
    if (to.checkpoint) report.soup.weights = toPosix(path.relative(to.workspace, path.join(finalDir, SOUP_WEIGHTS_FILE)));
    const text = JSON.stringify(report, null, 2) + '\n';
    if (into !== finalDir) return fsp.writeFile(path.join(into, REPORT_FILE), text);
    const tmpFile = path.join(finalDir, `.${REPORT_FILE}.tmp`);
    await fsp.writeFile(tmpFile, text);
    await fsp.rename(tmpFile, path.join(finalDir, REPORT_FILE));
  };
  return writeAtomically(
    to.outRoot,
    report.name,
    to.signal,
    async (tmp, finalDir) => {
      await writePatchedModel(to.template, to.weights, tmp, SOUP_MODEL_FILE);
      if (to.checkpoint) await writeSoupCheckpoint(path.join(tmp, SOUP_WEIGHTS_FILE), to.checkpoint.members, to.checkpoint.space, to.weights, to.signal);
      to.onModelWritten?.();
      await writeReport(finalDir, tmp);
    },
    (finalDir) => writeReport(finalDir),
  );
}

/**
 * The soup's checkpoint output, when every member is a checkpoint ingredient (a soup with ONNX
 * members is written as `soup.onnx` only). Members in the order they were added.
 */
export function checkpointOutput(chosen: ChosenIngredients, members: readonly string[]): SoupDestination['checkpoint'] {
  const space = chosen.graphSpace;
  const tables = members.map((id) => chosen.ingredients.find((i) => i.id === id)?.checkpoint?.table);
  if (!space || tables.some((t) => t === undefined || t.table.format === 'onnx')) return undefined;
  return { members: tables as CheckpointTable[], space };
}

/** The files an ingredient was read from: the hashed one and those checked by size and time. */
function sourceFiles(ing: SoupIngredient): { main: string; external: string[] } {
  if (ing.checkpoint) {
    const { file, files } = ing.checkpoint.table.table;
    return { main: file, external: files.filter((f) => f !== file) };
  }
  return { main: ing.model.path, external: externalFiles(ing.model) };
}

/** The graph mapping as reported (paths workspace-relative). */
function mappingReport(workspace: string, space: GraphSpace | undefined): SoupReport['mapping'] {
  if (!space) return undefined;
  const m = space.mapping;
  return {
    graph: displayPath(workspace, m.graph),
    reference: displayPath(workspace, m.reference),
    bindings: m.bindings.map((b) => ({ initializer: b.initializer, tensor: b.tensor, transposed: b.transposed })),
    keptConstants: m.keptConstants,
    unusedTensors: m.unusedTensors,
  };
}

/** The external data files a model's weights live in. */
function externalFiles(model: OnnxModelInfo): string[] {
  return [...new Set(model.weights.flatMap((w) => (w.data.kind === 'external' ? [w.data.file] : [])))];
}

/** Size, time and SHA-256 of `file`, read as a stream. */
export async function fingerprint(file: string): Promise<FileFingerprint> {
  const st = await fsp.stat(file);
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', resolve)
      .on('error', reject);
  });
  return { bytes: st.size, sha256: hash.digest('hex'), mtimeMs: st.mtimeMs };
}

/** A path with forward slashes, as reports store them. */
export function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** How a dataset is described in the report: kind, size, classes covered, subset and skips. */
function datasetInfo(workspace: string, d: EvalDataset, classes: number | undefined, labelSource: string | undefined): DatasetInfo {
  const info: DatasetInfo = { path: d.path, n: d.n, kind: d.kind, classesCovered: d.classesCovered };
  if (classes !== undefined) info.classes = classes;
  if (d.subset) info.subset = d.subset;
  if (d.kind === 'folder') {
    info.labels = labelSource && path.isAbsolute(labelSource) ? displayPath(workspace, labelSource) : labelSource;
    info.skipped = d.skipped;
    if (d.emptyClasses?.length) info.emptyClasses = d.emptyClasses;
  }
  return info;
}

/** Workspace-relative when inside the workspace, absolute otherwise. */
export function displayPath(workspace: string, p: string): string {
  const rel = path.relative(workspace, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : toPosix(rel);
}
