import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CookOptions, CookPhase, CookPlan } from './cookPlan';
import type { DatasetEntry } from './config';
import type { EvalDataset } from './datasets/evalDataset';
import { openDatasets } from './datasets/openDatasets';
import { inspectWorkspace } from './discovery/scanWorkspace';
import { SoupError, throwIfAborted } from './errors';
import { Evaluator } from './evaluate/evaluator';
import { LogitEnsemble, metricsFromCorrect } from './evaluate/metrics';
import type { OnnxModelInfo } from './formats/onnxModel';
import { writePatchedModel } from './formats/onnxWrite';
import { formatPercent } from './format';
import type { Baseline, DatasetInfo, IngredientReport, Metrics, SoupReport } from './report';
import { REPORT_SCHEMA } from './report';
import type { SoupIngredient } from './soups/method';
import { getSoupMethod } from './soups/registry';
import { prewarmMeanWorker, StreamingMean } from './soups/streamingMean';
import type { WeightSet } from './soups/weights';
import { loadWeights, WeightSum } from './soups/weights';
import { removeStaleTemps, writeAtomically } from './soupOutput';

/** The outcome of a cook. */
export interface CookResult {
  report: SoupReport;
  /** Absolute soup folder holding `soup.onnx` and `report.json`. */
  dir: string;
}

/** File name of the soup model inside its folder. */
export const SOUP_MODEL_FILE = 'soup.onnx';
/** File name of the report inside a soup folder. */
export const REPORT_FILE = 'report.json';

/**
 * Cooks one soup end to end: finds the runs, loads the datasets, evaluates every ingredient
 * once per dataset (which also feeds the logit ensemble), runs the soup method, evaluates the
 * soup and the uniform baseline, and writes `soup.onnx` + `report.json` atomically into
 * `<output>/<name>/`. Ingredient files are only read. On abort it throws CANCELLED and leaves
 * no output.
 */
export async function cookSoup(plan: CookPlan, opts: CookOptions = {}): Promise<CookResult> {
  const { signal } = opts;
  const method = getSoupMethod(plan.method);
  const workspace = path.resolve(plan.workspace);
  const cfg = plan.config;
  const timings: Record<string, number> = {};
  let phaseStart = Date.now();
  let phase: CookPhase = 'scan';
  const enter = (next: CookPhase) => {
    timings[phase] = (timings[phase] ?? 0) + Date.now() - phaseStart;
    phase = next;
    phaseStart = Date.now();
  };
  // Run ids are folder names and may hold line breaks: one event is one line in every log.
  const progress = (done: number, total: number, message: string) => opts.onProgress?.({ phase, done, total, message: message.replace(/[\r\n]+/g, '⏎') });

  // The averaging thread starts while the scan and the evaluation run.
  prewarmMeanWorker();
  // --- scan
  progress(0, 1, 'scanning runs');
  const { scan, models } = await inspectWorkspace(workspace, cfg, { signal });
  let chosen = scan.runs.filter((r) => r.status === 'ok');
  if (plan.ingredients) {
    const wanted = new Set(plan.ingredients);
    for (const id of wanted) {
      const run = scan.runs.find((r) => r.id === id);
      if (!run) throw new SoupError('NO_INGREDIENTS', `no run "${id}" in ${workspace}`);
      if (run.status !== 'ok') throw new SoupError('NO_INGREDIENTS', `run "${id}" cannot be an ingredient: ${run.status} (${run.reason ?? 'no reason given'})`);
    }
    chosen = chosen.filter((r) => wanted.has(r.id));
  }
  if (chosen.length === 0) {
    throw new SoupError('NO_INGREDIENTS', `no scored, compatible runs to cook from in ${workspace} (found ${scan.runs.length} run${scan.runs.length === 1 ? '' : 's'})`);
  }
  const ingredients: SoupIngredient[] = chosen.map((r) => ({ id: r.id, model: models.get(r.id) as OnnxModelInfo, heldout: r.heldout as number }));
  const template = ingredients[0].model;
  if (method.needsHeldout && !cfg.datasets.heldout) {
    throw new SoupError('CONFIG_INVALID', `${method.label} needs a held-out dataset: set "datasets.heldout" in modelsoups.json`, path.join(workspace, 'modelsoups.json'));
  }

  // --- load
  enter('load');
  const roles: [string, DatasetEntry][] = [];
  if (cfg.datasets.heldout) roles.push(['heldout', cfg.datasets.heldout]);
  if (cfg.datasets.test) roles.push(['test', cfg.datasets.test]);
  for (const [name, p] of Object.entries(cfg.datasets.shifts)) roles.push([name, p]);
  const warnings: string[] = [];
  const evaluator = await Evaluator.create(template, {
    input: cfg.model.input,
    output: cfg.model.output,
    batchSize: cfg.batchSize,
    threads: cfg.threads,
    device: cfg.device,
    onWarning: (w) => {
      warnings.push(w);
      progress(0, 1, `warning: ${w}`);
    },
  });
  let datasets: EvalDataset[] = [];
  try {
    // Label maps and preprocessor defaults are looked for beside the graph, the pretrained model, then the runs.
    const searchDirs = [...new Set([path.dirname(template.path), ...(scan.pretrained ? [path.dirname(scan.pretrained.path)] : []), ...scan.runs.flatMap((r) => [path.dirname(r.modelPath), path.join(workspace, r.id)])])];
    const opened = await openDatasets(roles, cfg, {
      workspace,
      inputName: evaluator.inputName,
      inputDims: evaluator.inputDims,
      modelClasses: evaluator.classes,
      searchDirs,
      signal,
      onProgress: (key, done, total) => progress(done, total, `decoding ${key}: ${done}/${total} images`),
    });
    datasets = opened.datasets;
    for (const ds of datasets) {
      evaluator.checkDataset(ds);
      if (ds.skipped && ds.skipped.count > 0) warnings.push(`${ds.path}: ${ds.skipped.count} file(s) skipped (${ds.skipped.files.slice(0, 3).map((f) => `${f.file}: ${f.reason}`).join('; ')}${ds.skipped.count > 3 ? '; ...' : ''}); see datasets.${ds.key}.skipped in the report`);
      if (ds.emptyClasses && ds.emptyClasses.length > 0) warnings.push(`${ds.path}: class folder(s) without readable images: ${ds.emptyClasses.join(', ')}`);
    }
    const heldout = datasets.find((d) => d.key === 'heldout');
    const fingerprints = new Map<string, { bytes: number; sha256: string; mtimeMs: number }>();
    // External data files (often gigabytes) are checked by size and mtime, not re-hashed.
    const externalStats = new Map<string, { size: number; mtimeMs: number }>();
    for (const ing of ingredients) {
      throwIfAborted(signal);
      fingerprints.set(ing.id, await fingerprint(ing.model.path));
      for (const file of externalFiles(ing.model)) externalStats.set(file, await fsp.stat(file));
    }

    // --- evaluate every ingredient once per dataset; the ensemble reuses those logits
    enter('evaluate');
    const ensemble = new LogitEnsemble();
    const ingredientMetrics = new Map<string, Metrics>();
    // One set of weights for every ingredient in turn (and later the uniform baseline's mean).
    let weights: WeightSet | undefined;
    for (const [i, ing] of ingredients.entries()) {
      weights = await loadWeights(ing.model, weights);
      const correct: Record<string, number> = {};
      for (const ds of datasets) {
        const r = await evaluator.run(weights, ds, { keepLogits: true, signal });
        correct[ds.key] = r.correct;
        if (r.logits) ensemble.add(ds, r.logits);
      }
      ensemble.members++;
      ingredientMetrics.set(ing.id, metricsFromCorrect(correct, datasets));
      ing.heldoutCorrect = correct.heldout;
      progress(i + 1, ingredients.length, `evaluated ${ing.id}${heldout ? ` — held-out ${formatPercent(correct.heldout / heldout.n)}` : ''}`);
    }
    const evaluateAll = async (weights: WeightSet): Promise<Metrics> => {
      const correct: Record<string, number> = {};
      for (const ds of datasets) correct[ds.key] = (await evaluator.run(weights, ds, { signal })).correct;
      return metricsFromCorrect(correct, datasets);
    };

    // --- soup
    enter('soup');
    const allIds = ingredients.map((i) => i.id);
    // The uniform baseline goes first so that the evaluation set is free for the method's result.
    let uniform: Baseline | undefined;
    if (method.id !== 'uniform') {
      progress(0, 1, `uniform baseline over ${allIds.length} ingredients`);
      const mean = await new StreamingMean().mean(ingredients.map((i) => i.model), { signal, out: weights });
      uniform = { members: allIds, metrics: await evaluateAll(mean) };
    }
    const outcome = await method.cook({
      ingredients,
      heldoutN: heldout?.n,
      comparison: cfg.greedy.comparison,
      newSum: () => new WeightSum(template),
      scoreHeldout: async (w) => (await evaluator.run(w, heldout as EvalDataset, { signal })).correct,
      signal,
      progress,
      scratch: weights,
    });
    const soupMetrics = await evaluateAll(outcome.weights);
    uniform ??= { members: allIds, metrics: soupMetrics };
    const best = bestIndividual(ingredients, ingredientMetrics);
    const ensembleCorrect = Object.fromEntries(datasets.map((ds) => [ds.key, ensemble.correct(ds)]));

    // --- write
    enter('write');
    throwIfAborted(signal);
    for (const ing of ingredients) {
      const before = fingerprints.get(ing.id);
      const st = await fsp.stat(ing.model.path).catch(() => undefined);
      if (!before || !st || st.size !== before.bytes || st.mtimeMs !== before.mtimeMs) {
        throw new SoupError('INGREDIENT_CHANGED', 'the model file changed or disappeared during the cook; nothing was written', ing.model.path);
      }
      // Size and mtime can be kept by a rewrite (cp -p, rsync -t, a same-size export): re-hash so
      // a soup is never written from a mixture of old and new weights under the old hash.
      throwIfAborted(signal);
      const now = await fingerprint(ing.model.path).catch(() => undefined);
      if (!now || now.sha256 !== before.sha256) {
        throw new SoupError('INGREDIENT_CHANGED', 'the model file\'s contents changed during the cook (same size and time, different SHA-256); nothing was written', ing.model.path);
      }
      for (const file of externalFiles(ing.model)) {
        const was = externalStats.get(file);
        const is = await fsp.stat(file).catch(() => undefined);
        if (!was || !is || is.size !== was.size || is.mtimeMs !== was.mtimeMs) {
          throw new SoupError('INGREDIENT_CHANGED', 'this external data file changed or disappeared during the cook; nothing was written', file);
        }
      }
    }
    const outRoot = path.resolve(workspace, plan.outDir ?? cfg.output);
    await removeStaleTemps(outRoot);
    const name = plan.name ?? defaultName(method.id);
    const report: SoupReport = {
      schema: REPORT_SCHEMA,
      method: method.id,
      name,
      createdAt: new Date().toISOString(),
      workspace,
      options: {
        comparison: method.id === 'greedy' ? cfg.greedy.comparison : undefined,
        batchSize: cfg.batchSize,
        scale: cfg.scale ?? 1,
        input: evaluator.inputName,
        output: evaluator.outputName,
        device: evaluator.device,
      },
      warnings,
      datasets: Object.fromEntries(datasets.map((d) => [d.key, datasetInfo(workspace, d, evaluator.classes ?? opened.labelMap?.names.length, opened.labelMap?.source)])),
      shiftNames: Object.keys(cfg.datasets.shifts),
      ingredients: scan.runs.map((r): IngredientReport => {
        const fp = fingerprints.get(r.id);
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
          bytes: fp?.bytes,
          sha256: fp?.sha256,
          metrics: ingredientMetrics.get(r.id),
        };
      }),
      soup: { members: outcome.members, path: '', metrics: soupMetrics },
      steps: outcome.steps,
      baselines: {
        bestIndividual: best,
        uniform,
        ensemble: { members: allIds, metrics: metricsFromCorrect(ensembleCorrect, datasets) },
      },
      timingsMs: timings,
    };
    // The report names its own folder, so it is rewritten (atomically) if the folder's name changes.
    const writeReport = async (finalDir: string, into = finalDir) => {
      report.name = path.basename(finalDir);
      report.soup.path = toPosix(path.relative(workspace, path.join(finalDir, SOUP_MODEL_FILE)));
      const text = JSON.stringify(report, null, 2) + '\n';
      if (into !== finalDir) return fsp.writeFile(path.join(into, REPORT_FILE), text);
      const tmpFile = path.join(finalDir, `.${REPORT_FILE}.tmp`);
      await fsp.writeFile(tmpFile, text);
      await fsp.rename(tmpFile, path.join(finalDir, REPORT_FILE));
    };
    const dir = await writeAtomically(
      outRoot,
      name,
      signal,
      async (tmp, finalDir) => {
        await writePatchedModel(template, outcome.weights, tmp, SOUP_MODEL_FILE);
        timings.write = Date.now() - phaseStart;
        await writeReport(finalDir, tmp);
      },
      (finalDir) => writeReport(finalDir),
    );
    progress(1, 1, `wrote ${displayPath(workspace, dir)}`);
    return { report, dir };
  } finally {
    await Promise.all(datasets.map((d) => d.close()));
    await evaluator.release();
  }
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

function bestIndividual(ingredients: SoupIngredient[], metrics: Map<string, Metrics>): Baseline {
  // Highest measured held-out accuracy; without a held-out set, the runs' own ranking.
  let best = ingredients[0];
  for (const ing of ingredients) {
    if ((ing.heldoutCorrect ?? -1) > (best.heldoutCorrect ?? -1)) best = ing;
  }
  return { members: [best.id], metrics: metrics.get(best.id) as Metrics };
}

/** The external data files a model's weights live in. */
function externalFiles(model: OnnxModelInfo): string[] {
  return [...new Set(model.weights.flatMap((w) => (w.data.kind === 'external' ? [w.data.file] : [])))];
}

async function fingerprint(file: string): Promise<{ bytes: number; sha256: string; mtimeMs: number }> {
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

function defaultName(method: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${method}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Workspace-relative when inside the workspace, absolute otherwise. */
function displayPath(workspace: string, p: string): string {
  const rel = path.relative(workspace, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : toPosix(rel);
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
