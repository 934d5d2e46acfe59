import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BuildGraph } from '../../test/synthetic/onnxBuild';
import { writeOnnxModel } from '../../test/synthetic/onnxBuild';
import { ANALYSIS_IDS } from './analysesScenario';
import type { ScenarioResult } from './scenarios';
import { ingredientTensor } from './zoo';

type Num = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
const MB = 1e6;

/** Runs a scenario in its own child process (bench.ts's `child`). */
export type RunScenario = (name: string, args: Num) => Promise<ScenarioResult>;

/** Peak RSS of the analyses over K may grow by at most this factor to count as flat (as the uniform soup's). */
const FLAT_RATIO = 1.25;

/**
 * Scenario 5 on one workspace: each analysis in a process of its own, so that each peak RSS is
 * that analysis's. Every process first makes the cook's passes and the soup (the setup); its peak
 * RSS before the analysis starts is the setup's.
 */
export async function analysesSuite(child: RunScenario, args: Num): Promise<Num> {
  const analyses: Record<string, Num> = {};
  let first: ScenarioResult | undefined;
  for (const id of ANALYSIS_IDS) {
    const r = await child('analyses', { ...args, run: [id] });
    first ??= r;
    analyses[id] = { ...(r.analyses as Record<string, Num>)[id], maxRssBytes: r.maxRssBytes, setupMaxRssBytes: r.setupMaxRssBytes };
  }
  const { k, parameters, modelBytes, datasets, cookPassesMs } = first as ScenarioResult;
  const setupMaxRssBytes = Math.max(...Object.values(analyses).map((a) => num(a.setupMaxRssBytes)));
  return { k, parameters, modelBytes, datasets, cookPassesMs, setupMaxRssBytes, analyses };
}

/**
 * A θ0 for a generated zoo, which has no pretrained model: fine-tune number `k` of the zoo's
 * recipe, written outside its runs folder (so every run can be an ingredient). Streaming its
 * weights costs what a real pretrained model's would.
 */
export async function writePretrainedStandIn(file: string, graph: BuildGraph, seed: number, k: number): Promise<string> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeOnnxModel(file, graph, (i) => ingredientTensor(graph, seed, k, i));
  return file;
}

/** The analyses of the zoo runs, K ascending. */
function zooRuns(res: Num): Num[] {
  return ((res.zooAnalyses ?? []) as Num[]).slice().sort((a, b) => num(a.k) - num(b.k));
}

/** Scenario 5's table: each analysis alone, its cost and peak RSS; on the zoo also (peak − base)/model. */
export function analysesReport(res: Num, table: (head: string[], rows: string[][]) => string): string[] {
  const base = num((res.baseline as Num | undefined)?.maxRssBytes);
  const runs = [['example', res.exampleAnalyses], ...zooRuns(res).map((r) => ['zoo', r])] as [string, Num | undefined][];
  const rows: string[][] = [];
  const s = (ms: unknown) => (num(ms) / 1000).toFixed(1);
  for (const [where, r] of runs) {
    if (!r) continue;
    const model = num(r.modelBytes);
    const above = (rss: number) => (where === 'zoo' ? ((rss - base) / model).toFixed(2) : '-');
    const params = `${(num(r.parameters) / 1e6).toFixed(2)} M`;
    rows.push([where, String(r.k), params, 'setup: cook\'s passes + soup', s(r.cookPassesMs), '', '', '', '', '', '', (num(r.setupMaxRssBytes) / MB).toFixed(0), above(num(r.setupMaxRssBytes))]);
    for (const [id, a] of Object.entries((r.analyses ?? {}) as Record<string, Num>)) {
      const cost = (a.cost ?? {}) as Num;
      const skipped = ((a.skipped ?? []) as Num[]).find((x) => x.id === id);
      if (skipped) {
        rows.push([where, String(r.k), params, `${id} (skipped: ${String(skipped.reason)})`, '', '', '', '', '', '', '', '', '']);
        continue;
      }
      const other = num(a.wallMs) - num(a.forwardMs) - num(a.averageMs) - num(a.loadWeightsMs);
      rows.push([
        where,
        String(r.k),
        params,
        id,
        s(a.wallMs),
        s(a.cpuMs),
        String(cost.forwardPasses ?? '-'),
        String(cost.weightMixes ?? '-'),
        s(a.forwardMs),
        s(num(a.averageMs) + num(a.loadWeightsMs)),
        s(other),
        (num(a.maxRssBytes) / MB).toFixed(0),
        above(num(a.maxRssBytes)),
      ]);
    }
  }
  if (rows.length === 0) return [];
  return [
    '',
    '### 5. Soup analyses (each alone in its own process, after the cook\'s own passes)',
    '',
    table(['workspace', 'K', 'parameters', 'analysis', 'wall s', 'CPU s', 'fwd passes', 'weight mixes', 'fwd s', 'read+mean s', 'mix/dot s', 'peak RSS MB', '(RSS-base)/model'], rows),
    `fwd s: inside Evaluator.run; read+mean s: StreamingMean averages and whole-model loads; mix/dot s: the rest (streamed weight mixes, the angles' dot products, metrics). Base = ${(base / MB).toFixed(0)} MB (Node + onnxruntime session + evaluation data, scenario 2).`,
  ];
}

/** Target: each analysis's peak RSS on the zoo stays within {@link FLAT_RATIO} over K. */
export function analysesTarget(res: Num): { name: string; met: boolean; detail: string } {
  const name = 'Analyses: memory flat in K (peak RSS of each analysis on the zoo, max/min <= 1.25)';
  const runs = zooRuns(res);
  const base = num((res.baseline as Num | undefined)?.maxRssBytes);
  if (runs.length < 2) return { name, met: false, detail: 'not run (needs the zoo at two K or more)' };
  let met = true;
  const parts = ANALYSIS_IDS.map((id) => {
    const peaks = runs.map((r) => num(((r.analyses as Record<string, Num>)[id] ?? {}).maxRssBytes));
    const ratio = Math.max(...peaks) / Math.min(...peaks);
    if (!(ratio <= FLAT_RATIO)) met = false;
    const perK = runs.map((r, i) => `K=${r.k} ${(peaks[i] / MB).toFixed(0)} MB = base + ${((peaks[i] - base) / num(r.modelBytes)).toFixed(2)}x`).join(', ');
    return `${id}: ${perK} (max/min ${ratio.toFixed(2)})`;
  });
  return { name, met, detail: parts.join('; ') + ` (base ${(base / MB).toFixed(0)} MB, model ${(num(runs[0].modelBytes) / MB).toFixed(0)} MB)` };
}
