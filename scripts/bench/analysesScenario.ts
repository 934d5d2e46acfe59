import * as path from 'node:path';
import { EvaluationBook, recordPasses } from '../../src/engine/analyses/modelEvaluation';
import { runAnalyses } from '../../src/engine/analyses/runAnalyses';
import type { AnalysisId } from '../../src/engine/analyses/types';
import { DEFAULT_MAX_PAIRS } from '../../src/engine/analyses/settings';
import { loadConfig } from '../../src/engine/config';
import { inspectWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import type { EvalDataset } from '../../src/engine/datasets/evalDataset';
import { splitEntry } from '../../src/engine/datasets/openDatasets';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { LogitEnsemble } from '../../src/engine/evaluate/metrics';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { StreamingMean } from '../../src/engine/soups/streamingMean';
import { installProbe, modelBytes } from './instrument';

/** Every analysis, in the order a cook runs them. */
export const ANALYSIS_IDS: AnalysisId[] = ['calibration', 'wiseft', 'angles', 'learned'];

/**
 * What each soup analysis costs on a workspace: the cook's own passes are made first (each
 * ingredient once per dataset, recorded for calibration and the ensemble, as a cook does), the
 * soup is the uniform soup of the K ingredients, then each analysis runs alone and reports its
 * wall and CPU time, forward passes and weight mixes, and where the time went (forward passes,
 * `StreamingMean` averages, the rest: weight mixes and dot products). Args: `workspace`, optional
 * `k` (the first K scored runs), `pretrained` (a model path when the config names none, e.g. a
 * generated run), `maxPairs`, `learnedBudget`, `run` (the analyses to run, default all; `[]`
 * measures the setup alone, so that one analysis per process gives each its own peak RSS).
 */
export async function analyses(args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const probe = installProbe();
  const workspace = args.workspace as string;
  const config = loadConfig(workspace);
  const { scan, models } = await inspectWorkspace(workspace, config);
  const pretrainedPath = (args.pretrained as string | undefined) ?? (config.pretrained ? path.resolve(workspace, config.pretrained) : undefined);
  const ok = scan.runs.filter((r) => r.status === 'ok' && models.get(r.id)?.path !== pretrainedPath);
  const ingredients = ok.slice(0, (args.k as number | undefined) ?? ok.length).map((r) => ({ id: r.id, model: models.get(r.id) as OnnxModelInfo }));
  const evaluator = await Evaluator.create(ingredients[0].model, { batchSize: config.batchSize, threads: config.threads });
  try {
    const datasets: EvalDataset[] = [];
    const sources: [string, NonNullable<typeof config.datasets.heldout>][] = [];
    if (config.datasets.heldout) sources.push(['heldout', config.datasets.heldout]);
    if (config.datasets.test) sources.push(['test', config.datasets.test]);
    sources.push(...Object.entries(config.datasets.shifts));
    for (const [key, entry] of sources) datasets.push(await openArrayFiles(key, splitEntry(entry).source, workspace, config.scale));

    let t = performance.now();
    const book = new EvaluationBook();
    const ensemble = new LogitEnsemble();
    await recordPasses(evaluator, datasets, ingredients, book, { ensemble });
    const cookPassesMs = performance.now() - t;
    const soup = await new StreamingMean().mean(ingredients.map((i) => i.model));
    const pretrained = pretrainedPath ? await readOnnxModel(pretrainedPath) : undefined;
    // The weights recordPasses loaded are garbage now: free them so the peak below is the setup's.
    (globalThis as { gc?: () => void }).gc?.();
    const setupMaxRssBytes = process.resourceUsage().maxRSS * 1024;
    const perAnalysis: Record<string, unknown> = {};
    for (const id of (args.run as AnalysisId[] | undefined) ?? ANALYSIS_IDS) {
      t = performance.now();
      const cpu = process.cpuUsage();
      const before = { ...probe };
      const a = await runAnalyses({
        evaluator,
        datasets,
        ingredients,
        pretrained,
        soup: { members: ingredients.map((i) => i.id), weights: soup },
        bestIndividual: ingredients[0].id,
        book,
        ensemble,
        settings: { run: [id], maxPairs: (args.maxPairs as number | undefined) ?? DEFAULT_MAX_PAIRS, learnedBudget: (args.learnedBudget as number | undefined) ?? 50, learnedStart: 'greedy' },
      });
      const result = { calibration: a.calibration, wiseft: a.wiseFt, angles: a.angles, learned: a.learned }[id];
      const used = process.cpuUsage(cpu);
      perAnalysis[id] = {
        wallMs: performance.now() - t,
        cpuMs: (used.user + used.system) / 1000,
        forwardMs: probe.forwardMs - before.forwardMs,
        averageMs: probe.averageMs - before.averageMs,
        loadWeightsMs: probe.loadWeightsMs - before.loadWeightsMs,
        cost: result?.cost,
        skipped: a.skipped,
      };
    }
    return { k: ingredients.length, parameters: ingredients[0].model.parameterCount, modelBytes: modelBytes(ingredients[0].model), datasets: datasets.map((d) => [d.key, d.n]), cookPassesMs, setupMaxRssBytes, analyses: perAnalysis };
  } finally {
    await evaluator.release();
  }
}
