import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as ortTypes from 'onnxruntime-node';
import { loadConfig } from '../../src/engine/config';
import type { ArrayDataset } from '../../src/engine/datasets/arrayFiles';
import { cookSoup } from '../../src/engine/cookSoup';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import { splitEntry } from '../../src/engine/datasets/openDatasets';
import { argmax, Evaluator } from '../../src/engine/evaluate/evaluator';
import { encodeOnnxModel, mlpGraph } from '../../test/synthetic/onnxBuild';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import type { SoupIngredient } from '../../src/engine/soups/method';
import { cookGreedy } from '../../src/engine/soups/greedy';
import type { WeightSet } from '../../src/engine/soups/weights';
import { createKernel } from '../../src/engine/soups/simdKernel';
import { prewarmMeanWorker, StreamingMean } from '../../src/engine/soups/streamingMean';
import { allocWeight, CHUNK_ELEMS, WeightReader, WeightSum } from '../../src/engine/soups/weights';
import { allocWeightSet } from '../../src/engine/soups/weightArena';
import { imageFolders } from './imageFolders';
import { analyses } from './analysesScenario';
import type { Probe } from './instrument';
import { installProbe, modelBytes } from './instrument';
import { trackerScan } from './trackerScan';
import { runId } from './zoo';

/** What every scenario reports besides its own numbers. */
export interface ScenarioResult {
  /** Peak resident set size of the scenario's process, bytes. */
  maxRssBytes: number;
  [key: string]: unknown;
}

type Args = Record<string, unknown>;

/** Scenarios run one per child process, so each peak RSS is the scenario's own. */
export const scenarios: Record<string, (args: Args) => Promise<Record<string, unknown>>> = {
  memcpy,
  cook,
  baseline,
  naive,
  averaging,
  analyses,
  trackerScan,
  imageFolders,
};

/**
 * The machine's practical limits for averaging the same number of bytes: a plain memory copy
 * (Buffer.copy = memcpy), a pread of the same model files from the page cache (whole tensors
 * through libuv, and in the engine's chunks with readSync into one cache-sized buffer), the
 * float64 accumulation loop of WeightSum alone on in-memory arrays, and the engine's chunk
 * kernels (WebAssembly SIMD, JS) alone on one cache-resident chunk.
 */
async function memcpy(args: Args): Promise<Record<string, unknown>> {
  const bytes = args.bytes as number;
  const reps = args.reps as number;
  const files = (args.files as string[] | undefined) ?? [];
  const src = Buffer.alloc(bytes, 1);
  const dst = Buffer.alloc(bytes);
  src.copy(dst); // fault the pages in once
  let t = performance.now();
  for (let r = 0; r < reps; r++) src.copy(dst);
  const copyMs = performance.now() - t;

  // Page-cache read of the same files the averaging reads (they were just written or read).
  let readBytes = 0;
  t = performance.now();
  for (const f of files) {
    const model = await readOnnxModel(f);
    const scratch = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
    for (const w of model.weights) {
      const fh = await fsp.open(w.data.kind === 'inline' ? f : w.data.file, 'r');
      try {
        for (let done = 0; done < w.data.length; ) {
          const n = Math.min(1 << 30, w.data.length - done, scratch.length);
          const { bytesRead } = await fh.read(scratch, 0, n, w.data.offset + done);
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      readBytes += w.data.length;
    }
  }
  const readMs = performance.now() - t;

  // The same files in the engine's chunks: readSync into one buffer that stays in cache.
  const chunk = new Uint8Array(CHUNK_ELEMS * 4);
  let chunkBytes = 0;
  t = performance.now();
  for (const f of files) {
    const model = await readOnnxModel(f);
    const reader = new WeightReader(model);
    try {
      for (const [i, w] of model.weights.entries()) {
        await reader.openFor(i);
        for (let from = 0; from < w.data.length; from += chunk.length) reader.readBytesSync(i, from, chunk.subarray(0, Math.min(chunk.length, w.data.length - from)));
        chunkBytes += w.data.length;
      }
    } finally {
      await reader.close();
    }
  }
  const chunkReadMs = performance.now() - t;

  // The accumulation loop WeightSum runs, without any I/O.
  const w = new Float32Array(src.buffer, src.byteOffset, Math.floor(bytes / 4));
  const s = new Float64Array(w.length);
  const accumulate = (sum: Float64Array, x: Float32Array) => {
    for (let k = 0; k < sum.length; k++) sum[k] += x[k];
  };
  accumulate(s, w);
  t = performance.now();
  for (let r = 0; r < reps; r++) accumulate(s, w);
  const sumMs = performance.now() - t;

  // The engine's chunk kernels alone: one chunk of float32 added into its float64 sum, in cache.
  const kernelGBs = (kind: 'simd' | 'js'): number => {
    const k = createKernel(CHUNK_ELEMS * 12, kind);
    const n = Math.floor(bytes / 4);
    k.addF32(0, CHUNK_ELEMS * 8, CHUNK_ELEMS);
    const start = performance.now();
    for (let r = 0; r < reps; r++) for (let done = 0; done < n; done += CHUNK_ELEMS) k.addF32(0, CHUNK_ELEMS * 8, Math.min(CHUNK_ELEMS, n - done));
    return (n * 4 * reps) / (performance.now() - start) / 1e6;
  };
  return {
    bytes: bytes * reps,
    copyGBs: (bytes * reps) / copyMs / 1e6,
    readBytes,
    readGBs: readBytes ? readBytes / readMs / 1e6 : undefined,
    chunkReadGBs: chunkBytes ? chunkBytes / chunkReadMs / 1e6 : undefined,
    sumLoopGBs: (w.byteLength * reps) / sumMs / 1e6,
    simdKernelGBs: kernelGBs('simd'),
    jsKernelGBs: kernelGBs('js'),
  };
}

/** One cookSoup run, instrumented. */
async function cook(args: Args): Promise<Record<string, unknown>> {
  const probe = installProbe();
  const workspace = args.workspace as string;
  const outDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-bench-out-'));
  try {
    const config = loadConfig(workspace);
    // `analysesOff`: the cook's own phases only (section 5 measures the analyses on their own).
    if (args.analysesOff) config.analyses = { ...config.analyses, run: [] };
    const t = performance.now();
    const { report, dir } = await cookSoup({
      workspace,
      config,
      method: args.method as string,
      ingredients: args.ingredients as string[] | undefined,
      outDir,
      name: 'bench',
    });
    const wallMs = performance.now() - t;
    const verified = args.verifyLastTensor ? await verifyLastTensor(path.join(dir, 'soup.onnx'), workspace, report.soup.members) : undefined;
    const soupFiles = await fsp.readdir(dir);
    // Checkpoint zoos: the graph (the ingredients' weights are stored as its initializers' values).
    const template = await readOnnxModel(path.join(workspace, (args.graph as string | undefined) ?? path.join(report.soup.members[0], 'model.onnx')));
    return {
      wallMs,
      timingsMs: report.timingsMs,
      k: report.ingredients.filter((i) => i.status === 'ok' && (!args.ingredients || (args.ingredients as string[]).includes(i.id))).length,
      members: report.soup.members.length,
      datasets: Object.fromEntries(Object.entries(report.datasets).map(([k, d]) => [k, d.n])),
      modelBytes: modelBytes(template),
      parameters: template.parameterCount,
      external: template.weights.some((w) => w.data.kind === 'external'),
      largestDataFile: await largestDataFile(template),
      soupFiles,
      verified,
      probe: summarise(probe),
    };
  } finally {
    await fsp.rm(outDir, { recursive: true, force: true });
  }
}

/** The soup's last tensor (stored past 2 GiB in a large external data file) equals the float64 mean. */
async function verifyLastTensor(soupFile: string, workspace: string, members: string[]): Promise<{ tensor: string; offset: number; equal: boolean }> {
  const soup = await readOnnxModel(soupFile);
  const i = soup.weights.length - 1;
  const readOne = async (m: OnnxModelInfo) => {
    const r = new WeightReader(m);
    try {
      return await r.read(i);
    } finally {
      await r.close();
    }
  };
  const got = await readOne(soup);
  const sum = new Float64Array(got.length);
  for (const id of members) {
    const w = await readOne(await readOnnxModel(path.join(workspace, id, 'model.onnx')));
    for (let k = 0; k < sum.length; k++) sum[k] += w[k];
  }
  let equal = true;
  for (let k = 0; k < sum.length && equal; k++) equal = got[k] === Math.fround(sum[k] / members.length);
  return { tensor: soup.weights[i].name, offset: soup.weights[i].data.offset, equal };
}

async function largestDataFile(model: OnnxModelInfo): Promise<number> {
  const files = new Set(model.weights.map((w) => (w.data.kind === 'external' ? w.data.file : model.path)));
  let max = 0;
  for (const f of files) max = Math.max(max, (await fsp.stat(f)).size);
  return max;
}

/**
 * The resident memory a cook needs besides weights: Node, onnxruntime, the session for the
 * architecture and the evaluation data, measured by doing exactly that and nothing else.
 */
async function baseline(args: Args): Promise<Record<string, unknown>> {
  const workspace = args.workspace as string;
  const config = loadConfig(workspace);
  const model = await readOnnxModel(path.join(workspace, (args.graph as string | undefined) ?? path.join(runId(0), 'model.onnx')));
  const evaluator = await Evaluator.create(model, { batchSize: config.batchSize, threads: config.threads });
  const ds = await loadHeldout(workspace);
  evaluator.checkDataset(ds);
  await evaluator.release();
  return { datasetBytes: ds.x.byteLength + ds.y.byteLength };
}

/**
 * Greedy soup two ways over the same ingredients and held-out set: the engine's loop (one
 * session, weights fed as inputs) and a naive loop that re-serialises the candidate soup as an
 * ONNX model and builds a new onnxruntime session for every candidate. Both must pick the same
 * members.
 */
async function naive(args: Args): Promise<Record<string, unknown>> {
  const probe = installProbe();
  const workspace = args.workspace as string;
  const k = args.k as number;
  const graph = mlpGraph(args.sizes as number[]);
  const config = loadConfig(workspace);
  const ds = await loadHeldout(workspace);
  const ingredients: SoupIngredient[] = [];
  for (let i = 0; i < k; i++) ingredients.push({ id: runId(i), model: await readOnnxModel(path.join(workspace, runId(i), 'model.onnx')), heldout: 0.9 - i * 0.001 });
  const template = ingredients[0].model;
  const threads = config.threads ?? os.availableParallelism();

  // Engine: session created once, inside the timed region.
  let t = performance.now();
  const before = { ...probe, passesPerDataset: { ...probe.passesPerDataset } };
  const evaluator = await Evaluator.create(template, { batchSize: config.batchSize, threads });
  const engine = await cookGreedy({
    ingredients,
    options: { comparison: config.greedy.comparison },
    heldout: { n: ds.n, correct: new Map(), score: async (w) => (await evaluator.run(w, ds)).correct },
    mean: (models, out) => new StreamingMean().mean([...models], { out }),
    progress: () => undefined,
  });
  await evaluator.release();
  const engineMs = performance.now() - t;
  const engineProbe = diff(probe, before);

  // Naive: a fresh session from a re-serialised model per candidate.
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const naiveParts = { averageMs: 0, serialiseMs: 0, sessionMs: 0, forwardMs: 0 };
  const score = async (weights: WeightSet): Promise<number> => {
    let s = performance.now();
    const bytes = encodeOnnxModel(graph, weights);
    naiveParts.serialiseMs += performance.now() - s;
    s = performance.now();
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', executionProviders: ['cpu'] });
    naiveParts.sessionMs += performance.now() - s;
    s = performance.now();
    let correct = 0;
    for (let start = 0; start < ds.n; start += config.batchSize) {
      const b = Math.min(config.batchSize, ds.n - start);
      const x = new ort.Tensor('float32', await ds.readBatch(start, b), [b, ...ds.xShape.slice(1)]);
      const out = (await session.run({ x })).logits;
      const data = out.data as Float32Array;
      const classes = out.dims[1];
      for (let i = 0; i < b; i++) if (argmax(data, i * classes, classes) === ds.y[start + i]) correct++;
    }
    naiveParts.forwardMs += performance.now() - s;
    await session.release();
    return correct;
  };
  // The same averaging as the engine's (the mean of the members and the candidate, streamed),
  // so that the difference is the sessions and the serialisation.
  t = performance.now();
  const averager = new StreamingMean();
  let s = performance.now();
  let scratch = await averager.mean([ingredients[0].model]);
  naiveParts.averageMs += performance.now() - s;
  let best = await score(scratch);
  const kept = [ingredients[0]];
  for (const cand of ingredients.slice(1)) {
    s = performance.now();
    scratch = await averager.mean([...kept, cand].map((m) => m.model), { out: scratch });
    naiveParts.averageMs += performance.now() - s;
    const correct = await score(scratch);
    if (config.greedy.comparison === '>=' ? correct >= best : correct > best) {
      kept.push(cand);
      best = correct;
    }
  }
  const members = kept.map((m) => m.id);
  const naiveMs = performance.now() - t;
  return {
    k,
    heldoutN: ds.n,
    engineMs,
    engineMembers: engine.members,
    engine: { sessions: engineProbe.sessions, sessionMs: engineProbe.sessionMs, averageMs: engineProbe.averageMs, averagePasses: engineProbe.averagePasses, forwardMs: engineProbe.forwardMs, forwardPasses: engineProbe.passesPerDataset.heldout ?? 0 },
    naiveMs,
    naiveMembers: members,
    naive: { ...naiveParts, sessions: k },
    sameMembers: JSON.stringify(members) === JSON.stringify(engine.members),
    speedup: naiveMs / engineMs,
  };
}

/**
 * Averaging alone over the same K files (page cache warm), three ways: the engine's
 * StreamingMean (uniform soups; WebAssembly SIMD kernel), the same with its JS kernel, and
 * WeightSum's full-size float64 running sums (greedy soups). Wall and CPU time, and a memory
 * copy of the same bytes timed in this process just before. All three means must be
 * bit-identical.
 */
async function averaging(args: Args): Promise<Record<string, unknown>> {
  const files = args.files as string[];
  const models: OnnxModelInfo[] = [];
  for (const f of files) models.push(await readOnnxModel(f));
  const bytes = models.reduce((s, m) => s + modelBytes(m), 0);
  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    const value = await fn();
    const used = process.cpuUsage(cpu);
    return { value, ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000 };
  };
  // As a cook does when it starts: the averaging thread is up before the first mean.
  prewarmMeanWorker();
  const localCopyGBs = copyGBs(modelBytes(models[0]), models.length);
  const simd = await timed(() => new StreamingMean().mean(models));
  const js = await timed(() => new StreamingMean({ kernel: 'js' }).mean(models));
  const sums = await timed(async () => {
    const sum = new WeightSum(models[0]);
    for (const m of models) await sum.add(m);
    return sum.meanWith(undefined);
  });
  // Greedy candidates as the cook makes them (the best model plus each other one, 2 models read
  // per candidate), against the former candidate pass (WeightSum.meanWith over full-size
  // float64 sums of the best model: 1 model read per candidate); same process, back to back.
  // Each into a set allocated and faulted in beforehand, as a cook's (the evaluation's weights).
  const fresh = allocWeightSet(models[0]);
  for (const t of fresh) t.fill(0);
  const candidates = await timed(async () => {
    let out = fresh;
    for (const m of models.slice(1)) out = await new StreamingMean().mean([models[0], m], { out });
    return out;
  });
  const formerOut = models[0].weights.map(allocWeight);
  for (const t of formerOut) t.fill(0);
  const formerCandidates = await timed(async () => {
    const sum = new WeightSum(models[0]);
    await sum.add(models[0]);
    let out = formerOut;
    for (const m of models.slice(1)) out = await sum.meanWith(m, out);
    return out;
  });
  const candidateCopyGBs = copyGBs(modelBytes(models[0]), models.length);
  const same = (a: WeightSet, b: WeightSet) =>
    a.length === b.length && a.every((x, i) => Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)) === 0);
  const rate = (r: { ms: number; cpuMs: number }) => ({ GBs: bytes / r.ms / 1e6, cpuGBs: bytes / r.cpuMs / 1e6 });
  return {
    k: models.length,
    bytes,
    localCopyGBs,
    streaming: rate(simd),
    streamingJs: rate(js),
    weightSum: rate(sums),
    bitIdentical: same(simd.value, sums.value) && same(js.value, sums.value),
    greedyCandidates: {
      n: models.length - 1,
      msPerCandidate: candidates.ms / (models.length - 1),
      formerMsPerCandidate: formerCandidates.ms / (models.length - 1),
      // Bytes that entered the means (2 models per candidate; formerly counted as 1).
      GBs: (2 * modelBytes(models[0]) * (models.length - 1)) / candidates.ms / 1e6,
      formerGBs: (modelBytes(models[0]) * (models.length - 1)) / formerCandidates.ms / 1e6,
      localCopyGBs: candidateCopyGBs,
      bitIdentical: same(candidates.value, formerCandidates.value),
    },
  };
}

/** Buffer.copy throughput (GB/s) of `bytes`, `reps` times, pages faulted in first. */
export function copyGBs(bytes: number, reps: number): number {
  const src = Buffer.alloc(bytes, 1);
  const dst = Buffer.alloc(bytes);
  src.copy(dst);
  const t = performance.now();
  for (let r = 0; r < reps; r++) src.copy(dst);
  return (bytes * reps) / (performance.now() - t) / 1e6;
}

/** The zoo's held-out set, as cookSoup loads it. */
async function loadHeldout(workspace: string): Promise<ArrayDataset> {
  const config = loadConfig(workspace);
  if (!config.datasets.heldout) throw new Error(`${workspace} has no held-out dataset`);
  return openArrayFiles('heldout', splitEntry(config.datasets.heldout).source, workspace, config.scale);
}

function diff(a: Probe, b: Probe): Probe {
  const passes: Record<string, number> = {};
  for (const [key, n] of Object.entries(a.passesPerDataset)) passes[key] = n - (b.passesPerDataset[key] ?? 0);
  return {
    averageMs: a.averageMs - b.averageMs,
    averageBytes: a.averageBytes - b.averageBytes,
    averagePasses: a.averagePasses - b.averagePasses,
    loadWeightsMs: a.loadWeightsMs - b.loadWeightsMs,
    loadWeightsBytes: a.loadWeightsBytes - b.loadWeightsBytes,
    forwardMs: a.forwardMs - b.forwardMs,
    forwardCpuMs: a.forwardCpuMs - b.forwardCpuMs,
    passesPerDataset: passes,
    sessions: a.sessions - b.sessions,
    sessionMs: a.sessionMs - b.sessionMs,
    graphSpaceMs: a.graphSpaceMs - b.graphSpaceMs,
    graphSpaceModels: a.graphSpaceModels - b.graphSpaceModels,
    intraOpThreads: a.intraOpThreads,
  };
}

function summarise(p: Probe): Record<string, unknown> {
  return {
    ...p,
    averageGBs: p.averageMs > 0 ? p.averageBytes / p.averageMs / 1e6 : undefined,
    forwardCores: p.forwardMs > 0 ? p.forwardCpuMs / p.forwardMs : undefined,
  };
}
