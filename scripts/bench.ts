/**
 * `npm run bench`: the performance and scale benchmark (issue 4). Not part of the tests.
 *
 *   node --expose-gc dist/bench.js [--quick] [--skip-big] [--only SECTIONS] [--json FILE]
 *
 * SECTIONS: comma-separated of example (the bundled example, image folders, trackers), zoo (the
 * ONNX zoo and its references), ckpt (the zoo as safetensors and .ckpt checkpoints), big, analyses
 * (what each soup analysis costs; alone, `--only analyses` prints only its own section and target).
 *
 * Each measured scenario runs in its own child process (`--scenario NAME --args JSON`) so its
 * peak RSS is its own. Generated zoos live in a temp folder that is deleted at the end.
 * Prints a table and writes the raw numbers as JSON (default `.cache/bench/results.json`).
 */
import { fork } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mlpGraph, parameterCount } from '../test/synthetic/onnxBuild';
import { analysesReport, analysesSuite, analysesTarget, writePretrainedStandIn } from './bench/analysesSuite';
import type { ScenarioResult } from './bench/scenarios';
import { scenarios } from './bench/scenarios';
import { generateTrackerZoo } from './bench/trackerZoo';
import type { CheckpointFormat } from './bench/ckptZoo';
import { checkpointRunId, generateCheckpointZoo, ZOO_GRAPH } from './bench/ckptZoo';
import { generateZoo } from './bench/zoo';

const REPO = path.resolve(__dirname, '..');
const SCENARIO_TIMEOUT_MS = 15 * 60 * 1000;
const GB = 1e9;
const MB = 1e6;

interface Sizes {
  zoo: number[];
  zooHeldout: number;
  ks: number[];
  /** K of the checkpoint zoos (each K is one uniform and one greedy cook per format). */
  ckptKs: number[];
  naiveK: number;
  big: number[];
  bigK: number;
  bigHeldout: number;
}

/** ~25 M parameters (~100 MB per file) for the zoo; ~570 M (2.28 GB, over 2 GiB) for the big model. */
const FULL: Sizes = { zoo: [1024, 4096, 4096, 1024, 10], zooHeldout: 256, ks: [4, 8, 16], ckptKs: [4, 8, 16], naiveK: 8, big: [4096, ...Array(9).fill(8192), 10], bigK: 3, bigHeldout: 64 };
/** A smoke run of the benchmark itself (minutes → seconds); its numbers mean little. */
/** The tracker scan (issue 12): TensorBoard runs and scalars per event file; an event-loop block longer than this is not interactive. */
const TRACKER_RUNS = 200;
const TRACKER_SCALARS = 10_000;
const INTERACTIVE_BLOCK_MS = 100;
const QUICK: Sizes = { zoo: [256, 1024, 1024, 256, 10], zooHeldout: 256, ks: [4, 8, 16], ckptKs: [4, 8], naiveK: 8, big: [1024, 2048, 2048, 2048, 10], bigK: 3, bigHeldout: 64 };

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const scenario = flag(argv, '--scenario');
  if (scenario) return runChild(scenario, JSON.parse(flag(argv, '--args') ?? '{}') as Record<string, unknown>);

  const quick = argv.includes('--quick');
  const only = flag(argv, '--only');
  const known = ['example', 'zoo', 'ckpt', 'big', 'analyses'];
  const sections = new Set((only ?? known.join(',')).split(','));
  if (argv.includes('--skip-big')) sections.delete('big');
  for (const x of sections) if (!known.includes(x)) throw new Error(`--only: unknown section "${x}" (known: ${known.join(', ')})`);
  const sizes = quick ? QUICK : FULL;
  const jsonFile = path.resolve(flag(argv, '--json') ?? path.join(REPO, only === 'analyses' ? '.cache/bench/analyses.json' : '.cache/bench/results.json'));
  const started = Date.now();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'model-soups-bench-'));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, totalMemGB: os.totalmem() / GB, node: process.version, platform: `${os.platform()} ${os.release()}` },
    quick,
    sections: [...sections],
  };
  if (only === 'analyses') {
    try {
      await analysesSection(results, tmp, sizes);
    } finally {
      cleanup();
    }
    return finish(results, [analysesTarget(results)], jsonFile, started, (res, targets) => [...analysesReport(res, table), '', targetsTable(targets)].join('\n'));
  }
  try {
    log(`benchmark: ${os.availableParallelism()} cores, ${(os.totalmem() / GB).toFixed(1)} GB RAM, temp folder ${tmp}${quick ? ' (--quick)' : ''}`);
    results.activation = activationCheck();

    if (sections.has('example')) await exampleSection(results, tmp);
    if (sections.has('zoo')) await zooSection(results, tmp, sizes);
    if (sections.has('ckpt')) await checkpointSection(results, tmp, sizes);
    if (sections.has('big')) results.big = await bigModel(tmp, sizes);
    if (sections.has('analyses')) await analysesSection(results, tmp, sizes);
  } finally {
    cleanup();
  }
  await finish(results, checkTargets(results), jsonFile, started, renderReport);
}

/** Records the targets and total time, writes the raw numbers and prints the report. */
async function finish(results: Record<string, unknown>, targets: Target[], jsonFile: string, started: number, render: (res: Num, targets: Target[]) => string): Promise<void> {
  results.totalMs = Date.now() - started;
  results.targets = targets;
  await fsp.mkdir(path.dirname(jsonFile), { recursive: true });
  await fsp.writeFile(jsonFile, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(render(results, targets) + '\n');
  log(`raw numbers: ${path.relative(process.cwd(), jsonFile)}; total ${(Number(results.totalMs) / 60000).toFixed(1)} min`);
}

/** 1. The bundled example end to end; 1b. a workspace of TensorBoard-logged runs, scanned. */
async function exampleSection(results: Record<string, unknown>, tmp: string): Promise<void> {
  log('example: greedy soup of examples/fashion-soup (analyses off: section 5 measures them)');
  results.example = await child('cook', { workspace: path.join(REPO, 'examples/fashion-soup'), method: 'greedy', analysesOff: true });
  log('image folders: the example\'s datasets as PNG folders, decoding and the same cook vs .npz');
  results.imageFolders = await child('imageFolders', { workspace: path.join(REPO, 'examples/fashion-soup') });

  log(`trackers: scan of ${TRACKER_RUNS} TensorBoard runs of ${TRACKER_SCALARS} scalars each`);
  const trackers = await generateTrackerZoo(path.join(tmp, 'trackers'), TRACKER_RUNS, TRACKER_SCALARS);
  results.trackers = { ...(await child('trackerScan', { workspace: trackers.dir, runIds: trackers.runIds, heldout: trackers.heldout })), eventBytes: trackers.eventBytes, scalarsPerRun: TRACKER_SCALARS };
  await fsp.rm(trackers.dir, { recursive: true, force: true });
}

/** 2. A generated zoo of the larger model as ONNX runs, with the reference points of section 4. */
async function zooSection(results: Record<string, unknown>, tmp: string, sizes: Sizes): Promise<void> {
  const zooGraph = mlpGraph(sizes.zoo);
  const zooBytes = parameterCount(zooGraph) * 4;
  const maxK = Math.max(...sizes.ks);
  await ensureDisk(tmp, maxK * zooBytes + 2 * zooBytes, 'the generated zoo');
  log(`zoo: writing ${maxK} ingredients of ${(parameterCount(zooGraph) / 1e6).toFixed(1)} M parameters (${(zooBytes / MB).toFixed(0)} MB each)`);
  const t = Date.now();
  const zoo = await generateZoo(path.join(tmp, 'zoo'), { sizes: sizes.zoo, k: maxK, external: false, heldoutN: sizes.zooHeldout, seed: 1, batchSize: sizes.zooHeldout });
  results.zooGeneration = { ms: Date.now() - t, k: maxK, modelBytes: zoo.modelBytes, parameters: parameterCount(zooGraph), heldoutN: sizes.zooHeldout, datasetBytes: zoo.datasetBytes };

  log('references: memory copy, page-cache read and the accumulation loop over the same bytes');
  results.memcpy = await child('memcpy', { bytes: zoo.modelBytes, reps: maxK, files: zoo.runIds.map((id) => path.join(zoo.dir, id, 'model.onnx')) });
  results.baseline = await child('baseline', { workspace: zoo.dir });
  log(`averaging alone: engine StreamingMean (SIMD, JS kernel) and WeightSum, K = ${maxK}`);
  results.averaging = await child('averaging', { files: zoo.runIds.map((id) => path.join(zoo.dir, id, 'model.onnx')) });

  const zooRuns: Record<string, unknown>[] = [];
  for (const k of sizes.ks) {
    for (const method of ['uniform', 'greedy']) {
      log(`zoo: ${method} soup, K = ${k}`);
      const r = await child('cook', { workspace: zoo.dir, method, ingredients: zoo.runIds.slice(0, k) });
      zooRuns.push({ ...r, method, k });
    }
  }
  results.zoo = zooRuns;

  log(`naive greedy loop (new session from a re-serialised model per candidate), K = ${sizes.naiveK}`);
  results.naive = await child('naive', { workspace: zoo.dir, k: sizes.naiveK, sizes: sizes.zoo });
  await fsp.rm(zoo.dir, { recursive: true, force: true });
}

/**
 * 2b. The same zoo written as checkpoints (safetensors, then Lightning `.ckpt`), one format at a
 * time, cooked uniform and greedy through cookSoup: the cooks map each checkpoint onto the graph
 * first (graph space, timed apart; this zoo's float32 tensors are in the graph's layout, so they
 * are read in place and nothing is written), then average and evaluate. The memory-copy
 * reference and the baseline RSS are measured here too when the ONNX zoo section did not run.
 */
async function checkpointSection(results: Record<string, unknown>, tmp: string, sizes: Sizes): Promise<void> {
  const zooBytes = parameterCount(mlpGraph(sizes.zoo)) * 4;
  const maxK = Math.max(...sizes.ckptKs);
  const runs: Record<string, unknown>[] = [];
  for (const format of ['safetensors', 'ckpt'] as CheckpointFormat[]) {
    // The checkpoints, the graph and its reference, and room for graph-space copies (none for this zoo).
    await ensureDisk(tmp, 2 * maxK * zooBytes + 3 * zooBytes, `the ${format} zoo`);
    log(`checkpoint zoo: writing ${maxK} ingredients as ${format}`);
    const t = Date.now();
    const zoo = await generateCheckpointZoo(path.join(tmp, `zoo-${format}`), { sizes: sizes.zoo, k: maxK, external: false, heldoutN: sizes.zooHeldout, seed: 1, batchSize: sizes.zooHeldout }, format);
    const generationMs = Date.now() - t;
    if (!results.memcpy) results.memcpy = await child('memcpy', { bytes: zoo.modelBytes, reps: maxK });
    if (!results.baseline) results.baseline = await child('baseline', { workspace: zoo.dir, graph: ZOO_GRAPH });
    results.zooGeneration ??= { ms: NaN, k: maxK, modelBytes: zoo.modelBytes, parameters: parameterCount(zoo.graph), heldoutN: sizes.zooHeldout, datasetBytes: zoo.datasetBytes };
    for (const k of sizes.ckptKs) {
      for (const method of ['uniform', 'greedy']) {
        log(`checkpoint zoo (${format}): ${method} soup, K = ${k}`);
        const r = await child('cook', { workspace: zoo.dir, method, graph: ZOO_GRAPH, ingredients: Array.from({ length: k }, (_, i) => checkpointRunId(format, i)) });
        runs.push({ ...r, method, k, format, generationMs });
      }
    }
    await fsp.rm(zoo.dir, { recursive: true, force: true });
  }
  results.checkpointZoo = runs;
}

/**
 * 5. Each soup analysis alone on the example, then on a zoo of the larger model for every K (its
 * own zoo, so that `--only analyses` runs it alone; the runtime base RSS of scenario 2 is measured
 * when that did not run). The zoo has no pretrained model: one more fine-tune of its recipe,
 * outside the runs, stands in for θ0 (streaming its weights costs the same).
 */
async function analysesSection(results: Record<string, unknown>, tmp: string, sizes: Sizes): Promise<void> {
  const load = () => `load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`;
  log(`example: soup analyses (calibration, WiSE-FT, angles + 2-soups, learned soup), each in its own process (${load()})`);
  results.exampleAnalyses = await analysesSuite(child, { workspace: path.join(REPO, 'examples/fashion-soup') });
  const graph = mlpGraph(sizes.zoo);
  const maxK = Math.max(...sizes.ks);
  const bytes = parameterCount(graph) * 4;
  await ensureDisk(tmp, (maxK + 1) * bytes, 'the generated zoo');
  log(`analyses zoo: writing ${maxK} ingredients and a stand-in θ0 of ${(parameterCount(graph) / 1e6).toFixed(1)} M parameters (${(bytes / MB).toFixed(0)} MB each)`);
  const zoo = await generateZoo(path.join(tmp, 'analyses-zoo'), { sizes: sizes.zoo, k: maxK, external: false, heldoutN: sizes.zooHeldout, seed: 1, batchSize: sizes.zooHeldout });
  const pretrained = await writePretrainedStandIn(path.join(tmp, 'analyses-theta0/model.onnx'), graph, 1, maxK);
  results.baseline ??= await child('baseline', { workspace: zoo.dir });
  const runs: Record<string, unknown>[] = [];
  for (const k of sizes.ks) {
    log(`zoo: soup analyses, K = ${k}, each in its own process (${load()})`);
    runs.push({ ...(await analysesSuite(child, { workspace: zoo.dir, k, pretrained, learnedBudget: 20 })), loadAverage: os.loadavg() });
  }
  results.zooAnalyses = runs;
  await fsp.rm(zoo.dir, { recursive: true, force: true });
}

/** 3. A model over 2 GB with external data. */
async function bigModel(tmp: string, sizes: Sizes): Promise<Record<string, unknown>> {
  const graph = mlpGraph(sizes.big);
  const bytes = parameterCount(graph) * 4;
  // Disk: K ingredients + the soup's copy. Memory: the mean (1x) + the weights of one
  // ingredient for its evaluation (1x) + headroom.
  const needDisk = (sizes.bigK + 1) * bytes + 256 * MB;
  const needMem = 3 * bytes;
  const free = await freeDisk(tmp);
  if (free < needDisk) {
    const msg = `skipped: the >2 GB model scenario needs ${(needDisk / GB).toFixed(1)} GB of free disk in ${os.tmpdir()}, ${(free / GB).toFixed(1)} GB free`;
    log(`big model: ${msg}`);
    return { skipped: msg };
  }
  if (os.freemem() < needMem) {
    const msg = `skipped: the >2 GB model scenario needs about ${(needMem / GB).toFixed(1)} GB of free memory, ${(os.freemem() / GB).toFixed(1)} GB free`;
    log(`big model: ${msg}`);
    return { skipped: msg };
  }
  log(`big model: writing ${sizes.bigK} ingredients of ${(parameterCount(graph) / 1e6).toFixed(0)} M parameters (${(bytes / GB).toFixed(2)} GB each) as external data`);
  const t = Date.now();
  const zoo = await generateZoo(path.join(tmp, 'big'), { sizes: sizes.big, k: sizes.bigK, external: true, heldoutN: sizes.bigHeldout, seed: 2, batchSize: sizes.bigHeldout });
  const generationMs = Date.now() - t;
  log('big model: uniform soup');
  const r = await child('cook', { workspace: zoo.dir, method: 'uniform', verifyLastTensor: true });
  await fsp.rm(zoo.dir, { recursive: true, force: true });
  return { ...r, generationMs };
}

/** The extension host must not load onnxruntime: its bundle must not even mention it. */
function activationCheck(): Record<string, unknown> {
  const file = path.join(REPO, 'dist/extension.js');
  if (!existsSync(file)) return { file: 'dist/extension.js', missing: true };
  const text = readFileSync(file, 'utf8');
  const worker = path.join(REPO, 'dist/worker.js');
  return {
    file: 'dist/extension.js',
    bytes: Buffer.byteLength(text),
    mentionsOnnxruntime: /onnxruntime/.test(text),
    requiresOnnxruntime: /require\(["']onnxruntime-node["']\)/.test(text),
    workerRequiresOnnxruntime: existsSync(worker) ? /require\(["']onnxruntime-node["']\)/.test(readFileSync(worker, 'utf8')) : undefined,
  };
}

// ---------------------------------------------------------------- child processes

async function runChild(name: string, args: Record<string, unknown>): Promise<void> {
  const fn = scenarios[name];
  if (!fn) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`);
  const result = await fn(args);
  const out: ScenarioResult = { ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  await new Promise<void>((resolve) => (process.send ? process.send(out, () => resolve()) : (process.stdout.write(JSON.stringify(out) + '\n'), resolve())));
}

function child(name: string, args: Record<string, unknown>): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(process.argv[1], ['--scenario', name, '--args', JSON.stringify(args)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: ScenarioResult | undefined;
    const timer = setTimeout(() => {
      log(`scenario ${name} timed out after ${SCENARIO_TIMEOUT_MS / 60000} min; killing pid ${proc.pid}`);
      proc.kill('SIGKILL');
    }, SCENARIO_TIMEOUT_MS);
    proc.on('message', (m) => (result = m as ScenarioResult));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result && code === 0) resolve(result);
      else reject(new Error(`scenario ${name} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

// ---------------------------------------------------------------- targets and report

interface Target {
  name: string;
  met: boolean;
  detail: string;
}

type Num = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
const probeOf = (r: Num): Num => (r.probe ?? {}) as Num;

function checkTargets(res: Num): Target[] {
  const targets: Target[] = [];
  const memcpy = res.memcpy as Num;
  const zoo = (res.zoo ?? []) as Num[];
  const uniform = zoo.filter((r) => r.method === 'uniform');
  const copy = num(memcpy?.copyGBs);

  const baseRss = num((res.baseline as Num)?.maxRssBytes);
  const model = num((res.zooGeneration as Num)?.modelBytes);
  const ckpt = (res.checkpointZoo ?? []) as Num[];
  const label = (r: Num) => `${r.format ?? 'onnx'} ${r.method} K=${r.k}`;
  const avgCell = (r: Num) => `${label(r)}: ${(num(probeOf(r).averageGBs) / copy).toFixed(2)}x`;
  const rssCell = (r: Num) => `${label(r)}: ${((num(r.maxRssBytes) - baseRss) / model).toFixed(2)}x`;
  if (zoo.length > 0) {
    const ratios = uniform.map((r) => num(probeOf(r).averageGBs) / copy);
    targets.push({
      name: 'Averaging throughput >= 0.8x memory copy (uniform soups)',
      met: ratios.length > 0 && ratios.every((x) => x >= 0.8),
      detail: uniform.map((r, i) => `K=${r.k}: ${num(probeOf(r).averageGBs).toFixed(2)} GB/s = ${ratios[i].toFixed(2)}x`).join('; ') + ` (memcpy ${copy.toFixed(2)} GB/s; averaging alone, K=${(res.averaging as Num)?.k}: ${(num(((res.averaging as Num)?.streaming as Num)?.GBs) / copy).toFixed(2)}x, ${(num(((res.averaging as Num)?.streaming as Num)?.GBs) / num((res.averaging as Num)?.localCopyGBs)).toFixed(2)}x of a memcpy timed in the same process)`,
    });
    const above = uniform.map((r) => (num(r.maxRssBytes) - baseRss) / model);
    const peaks = uniform.map((r) => num(r.maxRssBytes));
    const flat = peaks.length > 1 && Math.max(...peaks) / Math.min(...peaks) <= 1.25;
    targets.push({
      name: 'Uniform soup peak RSS flat in K, <= ~3x one model above runtime + eval data',
      met: flat && above.every((x) => x <= 3.3),
      detail: uniform.map((r, i) => `K=${r.k}: ${(peaks[i] / MB).toFixed(0)} MB = base + ${above[i].toFixed(2)}x model`).join('; ') + ` (base ${(baseRss / MB).toFixed(0)} MB, model ${(model / MB).toFixed(0)} MB; max/min ${(Math.max(...peaks) / Math.min(...peaks)).toFixed(2)})`,
    });
  }
  const greedy = [...zoo, ...ckpt].filter((r) => r.method === 'greedy');
  if (greedy.length > 0) {
    targets.push({
      name: 'Greedy averaging >= 0.8x memory copy, peak RSS <= base + 2.5x one model (ONNX and checkpoint zoos)',
      met: greedy.every((r) => num(probeOf(r).averageGBs) / copy >= 0.8 && (num(r.maxRssBytes) - baseRss) / model <= 2.5),
      detail: `averaging ${greedy.map(avgCell).join('; ')}; RSS above base ${greedy.map(rssCell).join('; ')}`,
    });
  }
  if (ckpt.length > 0) {
    const cu = ckpt.filter((r) => r.method === 'uniform');
    const flatIn = (format: string) => {
      const peaks = cu.filter((r) => r.format === format).map((r) => num(r.maxRssBytes));
      return Math.max(...peaks) / Math.min(...peaks);
    };
    targets.push({
      name: 'Checkpoint zoos (safetensors, .ckpt): uniform averaging >= 0.8x memory copy, peak RSS flat in K',
      met: cu.every((r) => num(probeOf(r).averageGBs) / copy >= 0.8) && flatIn('safetensors') <= 1.25 && flatIn('ckpt') <= 1.25,
      detail: `averaging ${cu.map(avgCell).join('; ')}; RSS above base ${cu.map(rssCell).join('; ')}; max/min peak: safetensors ${flatIn('safetensors').toFixed(2)}, ckpt ${flatIn('ckpt').toFixed(2)}`,
    });
  }

  const naive = res.naive as Num;
  const cooks = [...zoo, ...ckpt, ...(res.example ? [res.example as Num] : [])];
  const oneSession = cooks.every((r) => num(probeOf(r).sessions) === 1);
  if (naive) targets.push({
    name: 'Greedy: one session per cook, no serialisation per candidate; speed-up over the naive loop',
    met: oneSession && naive?.sameMembers === true && num(naive?.speedup) > 1,
    detail: `sessions per cook: ${oneSession ? 'always 1' : 'MORE THAN 1'}; K=${naive?.k}: engine ${(num(naive?.engineMs) / 1000).toFixed(1)} s vs naive ${(num(naive?.naiveMs) / 1000).toFixed(1)} s = ${num(naive?.speedup).toFixed(1)}x, same members: ${naive?.sameMembers}`,
  });

  // Forward passes: each ingredient once per dataset, one per greedy candidate, the soup and the
  // uniform baseline once per dataset; nothing for the best individual or the ensemble.
  const passDetail: string[] = [];
  let passesOk = true;
  for (const r of cooks) {
    const k = num(r.k);
    const perDs = probeOf(r).passesPerDataset as Record<string, number>;
    const datasets = Object.keys(r.datasets as Num);
    const method = r.method ?? 'greedy';
    for (const ds of datasets) {
      const expected = k + (method === 'greedy' && ds === 'heldout' ? k - 1 : 0) + 1 + (method === 'greedy' ? 1 : 0);
      if (perDs[ds] !== expected) {
        passesOk = false;
        passDetail.push(`${method} K=${k} ${ds}: ${perDs[ds]} passes, expected ${expected}`);
      }
    }
  }
  const threads = cooks.map((r) => num(probeOf(r).intraOpThreads));
  const cores = [...zoo, ...ckpt].map((r) => num(probeOf(r).forwardCores));
  const cpus = num((res.machine as Num).cpus);
  targets.push({
    name: 'Evaluation: threads = cores, explicit; no extra forward passes for best individual / ensemble',
    met: passesOk && threads.every((x) => x === cpus),
    detail: `intraOpNumThreads ${[...new Set(threads)].join('/')} of ${cpus} cores; CPU busy during forward passes ${cores.length ? `${Math.min(...cores).toFixed(2)}-${Math.max(...cores).toFixed(2)} cores` : 'not measured (no zoo cook in this run)'}; passes ${passesOk ? 'as expected (K per dataset + greedy candidates + soup + uniform baseline)' : passDetail.join('; ')}`,
  });

  const tr = res.trackers as Num;
  if (tr) targets.push({
    name: `Tracker scan of ${TRACKER_RUNS} TensorBoard runs x ${TRACKER_SCALARS} scalars: right values, event loop never blocked > ${INTERACTIVE_BLOCK_MS} ms`,
    met: tr?.wrong === 0 && num(tr?.runs) === TRACKER_RUNS && num(tr?.maxEventLoopBlockMs) <= INTERACTIVE_BLOCK_MS,
    detail: `${(num(tr?.scanMs) / 1000).toFixed(2)} s (${num(tr?.msPerRun).toFixed(1)} ms per run, ${(num(tr?.eventBytes) / MB).toFixed(0)} MB of event files); longest event-loop block ${num(tr?.maxEventLoopBlockMs).toFixed(0)} ms (p99 ${num(tr?.p99EventLoopBlockMs).toFixed(0)} ms); wrong values: ${tr?.wrong}`,
  });

  if (res.zooAnalyses) targets.push(analysesTarget(res));

  const act = res.activation as Num;
  targets.push({
    name: 'Extension host never loads onnxruntime',
    met: act?.requiresOnnxruntime === false && act?.mentionsOnnxruntime === false,
    detail: `dist/extension.js ${(num(act?.bytes) / 1000).toFixed(0)} kB, mentions onnxruntime: ${act?.mentionsOnnxruntime}; dist/worker.js requires it: ${act?.workerRequiresOnnxruntime}`,
  });

  const big = res.big as Num | undefined;
  if (big && !big.skipped) {
    const bigAbove = (num(big.maxRssBytes) - baseRss) / num(big.modelBytes);
    targets.push({
      name: 'Model over 2 GB with external data cooked by streaming',
      met: num(big.largestDataFile) > 2 ** 31 && (big.verified as Num)?.equal === true,
      detail: `data file ${(num(big.largestDataFile) / GB).toFixed(2)} GB per ingredient, soup's last tensor (at byte ${(big.verified as Num)?.offset}) = float64 mean: ${(big.verified as Num)?.equal}; peak RSS ${(num(big.maxRssBytes) / GB).toFixed(2)} GB = ${(num(big.maxRssBytes) / num(big.modelBytes)).toFixed(2)}x model (${bigAbove.toFixed(2)}x above the zoo baseline)`,
    });
  } else {
    targets.push({ name: 'Model over 2 GB with external data cooked by streaming', met: false, detail: String(big?.skipped ?? 'not run (--skip-big or --only)') });
  }
  return targets;
}

function renderReport(res: Num, targets: Target[]): string {
  const lines: string[] = [];
  const machine = res.machine as Num;
  lines.push(`## Benchmark — ${String(res.date).slice(0, 10)}, ${machine.cpus} cores (${machine.cpuModel}), ${num(machine.totalMemGB).toFixed(0)} GB RAM, Node ${machine.node}${res.quick ? ' — QUICK RUN, sizes reduced' : ''}`);
  lines.push('');

  const ex = res.example as Num | undefined;
  if (ex) lines.push(...exampleReport(ex));

  const img = res.imageFolders as Num | undefined;
  if (img) {
    const npz = img.npz as Num;
    const folder = img.folder as Num;
    lines.push(`### 1b. The same datasets as image folders (${img.images} PNGs, 28x28 grayscale)`);
    lines.push('');
    lines.push(table(['figure', 'value'], [
      ['decoding (sharp, batches of batchSize), images/s', num(img.imagesPerSecond).toFixed(0)],
      ['greedy cook on .npz, wall s', (num(npz.wallMs) / 1000).toFixed(1)],
      ['greedy cook on folders, wall s', (num(folder.wallMs) / 1000).toFixed(1)],
      ['folders / .npz', `${num(img.cookRatio).toFixed(2)}×`],
      ['same correct counts on every set', img.sameCounts ? 'yes' : 'NO'],
    ]));
    lines.push(`Peak RSS ${(num(img.maxRssBytes) / MB).toFixed(0)} MB.`);
    lines.push('');
  }

  const gen = res.zooGeneration as Num;
  const memcpy = res.memcpy as Num;
  const copy = num(memcpy?.copyGBs);
  const base = num((res.baseline as Num)?.maxRssBytes);
  const avgCells = (q: Num) => [`${num(q.averageGBs).toFixed(2)} (${(num(q.averageGBs) / copy).toFixed(2)}x)`, (num(q.averageMs) / 1000).toFixed(2), String(q.averagePasses)];
  if (res.zoo) {
    lines.push(`### 2. Generated zoo: MLP of ${(num(gen.parameters) / 1e6).toFixed(1)} M parameters (${(num(gen.modelBytes) / MB).toFixed(0)} MB per ONNX file), held-out ${gen.heldoutN} examples`);
    lines.push('');
    const rows = ((res.zoo ?? []) as Num[]).map((r) => {
      const q = probeOf(r);
      return [
        String(r.k),
        String(r.method),
        (num(r.wallMs) / 1000).toFixed(1),
        ...avgCells(q),
        String((q.passesPerDataset as Num).heldout),
        num(q.forwardCores).toFixed(2),
        (num(r.maxRssBytes) / MB).toFixed(0),
        ((num(r.maxRssBytes) - base) / num(gen.modelBytes)).toFixed(2),
      ];
    });
    lines.push(table(['K', 'soup', 'wall s', 'avg GB/s (x memcpy)', 'avg s', 'avg passes', 'fwd passes', 'cores busy', 'peak RSS MB', '(RSS-base)/model'], rows));
    lines.push(`Base = Node + onnxruntime session + evaluation data alone: ${(base / MB).toFixed(0)} MB. Zoo written in ${(num(gen.ms) / 1000).toFixed(1)} s.`);
    lines.push('');
  }
  const ckpt = res.checkpointZoo as Num[] | undefined;
  if (ckpt) {
    lines.push(`### 2b. The same zoo as checkpoints (${(num(gen.modelBytes) / MB).toFixed(0)} MB of float32 weights each; graph: one ONNX export)`);
    lines.push('');
    lines.push(table(['format', 'K', 'soup', 'wall s', 'graph space s', 'avg GB/s (x memcpy)', 'avg s', 'avg passes', 'fwd passes', 'peak RSS MB', '(RSS-base)/model'], ckpt.map((r) => {
      const q = probeOf(r);
      return [
        String(r.format),
        String(r.k),
        String(r.method),
        (num(r.wallMs) / 1000).toFixed(1),
        `${(num(q.graphSpaceMs) / 1000).toFixed(2)} (${q.graphSpaceModels})`,
        ...avgCells(q),
        String((q.passesPerDataset as Num).heldout),
        (num(r.maxRssBytes) / MB).toFixed(0),
        ((num(r.maxRssBytes) - base) / num(gen.modelBytes)).toFixed(2),
      ];
    })));
    const written = [...new Map(ckpt.map((r) => [r.format, num(r.generationMs)])).entries()].map(([f, ms]) => `${f} ${(ms / 1000).toFixed(1)} s`).join(', ');
    lines.push(`Graph space = mapping each checkpoint's tensors onto the graph's weights (models in brackets), part of the load phase; this zoo's graph is exported without constant folding, so its float32 tensors are read in place and nothing is written (transposed or half-precision tensors would be written into the cook's temp folder). Zoos written in ${written}.`);
    lines.push('');
  }

  const big = res.big as Num | undefined;
  if (big) {
    lines.push('### 3. Model over 2 GB stored with ONNX external data');
    lines.push('');
    if (big.skipped) {
      lines.push(String(big.skipped));
    } else {
      const q = probeOf(big);
      const tmb = big.timingsMs as Record<string, number>;
      lines.push(table(['K', 'soup', 'params', 'data file', 'wall s', 'avg GB/s (x memcpy)', 'write s', 'peak RSS GB', 'RSS/model', 'last tensor = mean'], [[
        String(big.k),
        'uniform',
        `${(num(big.parameters) / 1e6).toFixed(0)} M`,
        `${(num(big.largestDataFile) / GB).toFixed(2)} GB`,
        (num(big.wallMs) / 1000).toFixed(1),
        `${num(q.averageGBs).toFixed(2)} (${(num(q.averageGBs) / copy).toFixed(2)}x)`,
        (tmb.write / 1000).toFixed(1),
        (num(big.maxRssBytes) / GB).toFixed(2),
        (num(big.maxRssBytes) / num(big.modelBytes)).toFixed(2),
        String((big.verified as Num).equal),
      ]]));
    }
    lines.push('');
  }

  const naive = res.naive as Num | undefined;
  if (naive) {
    lines.push('### 4. Reference points (same run)');
    lines.push('');
    const avg = res.averaging as Num;
    const gc = (avg.greedyCandidates ?? {}) as Num;
    const eng = naive.engine as Num;
    const nv = naive.naive as Num;
    const k = num(naive.k);
    lines.push(table(['reference', 'value'], [
      [`memory copy (Buffer.copy), ${(num(memcpy.bytes) / GB).toFixed(1)} GB`, `${copy.toFixed(2)} GB/s`],
      ['page-cache read of the same model files', `${num(memcpy.readGBs).toFixed(2)} GB/s`],
      ['page-cache read in the engine\'s 256 KB chunks (readSync)', `${num(memcpy.chunkReadGBs).toFixed(2)} GB/s`],
      ['WeightSum\'s float64 loop alone, full-size arrays (no I/O)', `${num(memcpy.sumLoopGBs).toFixed(2)} GB/s of float32 weights`],
      ['chunk kernel alone, in cache: WebAssembly SIMD / JS', `${num(memcpy.simdKernelGBs).toFixed(2)} / ${num(memcpy.jsKernelGBs).toFixed(2)} GB/s of float32 weights`],
      [`averaging alone, K = ${avg.k}: StreamingMean (SIMD)`, `${rateCell(avg.streaming as Num, copy, num(avg.localCopyGBs))}`],
      [`averaging alone, K = ${avg.k}: StreamingMean (JS kernel)`, `${rateCell(avg.streamingJs as Num, copy, num(avg.localCopyGBs))}`],
      [`averaging alone, K = ${avg.k}: WeightSum (greedy's former float64 sums)`, `${rateCell(avg.weightSum as Num, copy, num(avg.localCopyGBs))}; bit-identical: ${avg.bitIdentical}`],
      [`greedy candidate means alone, ${gc.n} candidates of 2 models: StreamingMean / former WeightSum.meanWith`, `${num(gc.msPerCandidate).toFixed(0)} / ${num(gc.formerMsPerCandidate).toFixed(0)} ms per candidate = ${(num(gc.formerMsPerCandidate) / num(gc.msPerCandidate)).toFixed(1)}x faster; ${num(gc.GBs).toFixed(2)} GB/s entering the means (${(num(gc.GBs) / num(gc.localCopyGBs)).toFixed(2)}x in-process memcpy of ${num(gc.localCopyGBs).toFixed(2)} GB/s) vs ${num(gc.formerGBs).toFixed(2)} GB/s of candidates (${(num(gc.formerGBs) / num(gc.localCopyGBs)).toFixed(2)}x); bit-identical: ${gc.bitIdentical}`],
      [`greedy loop, engine (1 session), K = ${k}`, `${(num(naive.engineMs) / 1000).toFixed(1)} s = ${(num(naive.engineMs) / k / 1000).toFixed(2)} s/candidate (avg ${(num(eng.averageMs) / k / 1000).toFixed(2)} + fwd ${(num(eng.forwardMs) / k / 1000).toFixed(2)} s; ${eng.sessions} session)`],
      [`greedy loop, naive (session per candidate), K = ${k}`, `${(num(naive.naiveMs) / 1000).toFixed(1)} s = ${(num(naive.naiveMs) / k / 1000).toFixed(2)} s/candidate (serialise ${(num(nv.serialiseMs) / k / 1000).toFixed(2)} + session ${(num(nv.sessionMs) / k / 1000).toFixed(2)} + fwd ${(num(nv.forwardMs) / k / 1000).toFixed(2)} + avg ${(num(nv.averageMs) / k / 1000).toFixed(2)} s)`],
      ['speed-up of the engine loop', `${num(naive.speedup).toFixed(1)}x (same members: ${naive.sameMembers})`],
    ]));
    lines.push('');
  }

  lines.push(...analysesReport(res, table));
  lines.push('');
  lines.push(targetsTable(targets));
  const act = res.activation as Num;
  lines.push('');
  if (act) lines.push(`Activation: dist/extension.js is ${(num(act.bytes) / 1000).toFixed(0)} kB and does not require onnxruntime (${act.mentionsOnnxruntime ? 'but MENTIONS it' : 'not even mentioned'}); only the background worker loads it.`);
  lines.push(`Total benchmark time: ${(num(res.totalMs) / 60000).toFixed(1)} min.`);
  return lines.join('\n');
}

/** Section 1: the bundled example's greedy cook, phase by phase. */
function exampleReport(ex: Num): string[] {
  const lines: string[] = [];
  const p = probeOf(ex);
  const tm = ex.timingsMs as Record<string, number>;
  const phases: [string, number][] = [
    ['scan', tm.scan],
    ['load (datasets, session, fingerprints, ingredient weights)', tm.load + num(p.loadWeightsMs)],
    ['average (WeightSum / StreamingMean passes)', num(p.averageMs)],
    ['evaluate (forward passes)', num(p.forwardMs)],
    ['write', tm.write],
  ];
  const other = num(ex.wallMs) - phases.reduce((s, [, v]) => s + v, 0);
  phases.push(['other (metrics, ensemble, report)', other]);
  lines.push(`### 1. Bundled example: greedy soup of examples/fashion-soup (K = ${ex.k}, ${(num(ex.parameters) / 1e3).toFixed(0)} k parameters, ${Object.keys(ex.datasets as Num).length} datasets)`);
  lines.push('');
  lines.push(table(['phase', 'ms'], [...phases.map(([n, v]) => [n, v.toFixed(0)]), ['total (wall)', num(ex.wallMs).toFixed(0)]]));
  lines.push(`Forward passes: ${JSON.stringify(p.passesPerDataset)}; ${p.averagePasses} averaging passes; ${p.sessions} onnxruntime session; peak RSS ${(num(ex.maxRssBytes) / MB).toFixed(0)} MB.`);
  lines.push('');
  return lines;
}

function targetsTable(targets: Target[]): string {
  return ['### Targets', '', table(['target', 'met', 'measured'], targets.map((t) => [t.name, t.met ? 'yes' : 'NO', t.detail]))].join('\n');
}

/** Throughput of one averaging, as a fraction of the run's memcpy and of one timed in its process. */
function rateCell(r: Num, copy: number, localCopy: number): string {
  const gbs = num(r?.GBs);
  return `${gbs.toFixed(2)} GB/s (${(gbs / copy).toFixed(2)}x memcpy; ${(gbs / localCopy).toFixed(2)}x in-process memcpy of ${localCopy.toFixed(2)} GB/s; ${num(r?.cpuGBs).toFixed(2)} GB per CPU-second)`;
}

/** A Markdown table. */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- helpers

async function freeDisk(dir: string): Promise<number> {
  const st = await fsp.statfs(dir);
  return st.bavail * st.bsize;
}

async function ensureDisk(dir: string, bytes: number, what: string): Promise<void> {
  const free = await freeDisk(dir);
  if (free < bytes) throw new Error(`${what} needs ${(bytes / GB).toFixed(1)} GB of free disk in ${dir}; only ${(free / GB).toFixed(1)} GB free. Free space or set TMPDIR to a larger disk.`);
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

main().catch((err) => {
  process.stderr.write(`[bench] error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
