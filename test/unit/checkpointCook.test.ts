import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkpointTable } from '../../src/engine/checkpoints/checkpointTable';
import { mapGraphToCheckpoint } from '../../src/engine/checkpoints/graphMapping';
import { GraphSpace } from '../../src/engine/checkpoints/graphSpace';
import { roundAsStored, soupDtypes, storedMean } from '../../src/engine/checkpoints/storedPrecision';
import { openWeights } from '../../src/engine/checkpoints/weightsFile';
import { parseArgs } from '../../src/cli/args';
import { CONFIG_FLAGS, configFromArgs } from '../../src/cli/configFlags';
import { loadConfig, parseConfig } from '../../src/engine/config';
import type { CookPlan } from '../../src/engine/cookPlan';
import { chooseFromInspected, enterGraphSpace } from '../../src/engine/cookPhases';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookChosen } from '../../src/engine/cookSoup';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import type { RunRecord } from '../../src/engine/discovery/runRecord';
import type { InspectedWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { inspectRuns } from '../../src/engine/discovery/scanWorkspace';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { bf16ToNumber, float32ToBf16, roundToHalf } from '../../src/engine/formats/tensorDtypes';
import { writeSafetensorsFile } from '../../src/engine/formats/safetensorsWrite';
import * as os from 'node:os';
import { TensorReader } from '../../src/engine/formats/tensorRead';
import { PhaseClock } from '../../src/engine/phaseClock';
import { REPORT_FILE, SOUP_MODEL_FILE, SOUP_WEIGHTS_FILE } from '../../src/engine/report';
import { getSoupMethod } from '../../src/engine/soups/registry';
import { loadWeights } from '../../src/engine/soups/weights';
import { CKPT_INGREDIENTS, CKPT_ZOO, ckptFile } from './helpers/ckptZoo';
import { EXAMPLE, tempDir } from './helpers/paths';

type Counts = Record<string, number>;
interface CkptExpected {
  ingredients: { id: string; heldout_acc_in_metrics: number; correct: Counts }[];
  greedy_soup: { members: string[]; steps: { candidate: string; candidate_soup_heldout_correct: number; accepted: boolean }[]; correct: Counts };
  uniform_soup: { members: string[]; correct: Counts };
  ensemble: { logits_mean: { correct: Counts } };
}
const expected = JSON.parse(readFileSync(path.join(CKPT_ZOO, 'expected.json'), 'utf8')) as CkptExpected;
// expected.json names the Trainer run by its checkpoint folder; the project's id is the run folder.
const projectId = (id: string) => id.replace(/\/checkpoint-\d+$/, '');

/** The records discovery makes for the fixture's checkpoint runs (and the hostile sweep-x13). */
function fixtureRuns(): RunRecord[] {
  const runs = Object.entries(CKPT_INGREDIENTS).map(([id, w]): RunRecord => {
    const file = ckptFile(w.file);
    const format = w.file.endsWith('.index.json') ? 'safetensors-sharded' : w.file.endsWith('.safetensors') ? 'safetensors' : 'torch';
    const heldout = expected.ingredients.find((i) => i.id === id)?.heldout_acc_in_metrics;
    return { id: projectId(id), layout: 'plain', dir: ckptFile(projectId(id)), modelPath: file, weights: { file, format }, files: [file], heldout, hparams: {}, status: 'ok' };
  });
  const x13 = ckptFile('sweep-x13/model.pt');
  runs.push({ id: 'sweep-x13', layout: 'plain', dir: ckptFile('sweep-x13'), modelPath: x13, weights: { file: x13, format: 'torch' }, files: [x13], heldout: 0.99, hparams: {}, status: 'ok' });
  return runs;
}

/** Every count of expected.json for a greedy cook of the twelve ingredients. */
function assertGreedyAsExpected(r: CookResult['report']): void {
  for (const ing of expected.ingredients) {
    assert.deepEqual(r.ingredients.find((i) => i.id === projectId(ing.id))?.metrics?.correct, ing.correct, ing.id);
  }
  assert.deepEqual(r.soup.members, expected.greedy_soup.members.map(projectId));
  assert.deepEqual(
    r.steps.map((s) => [s.candidate, s.correct, s.added]),
    expected.greedy_soup.steps.map((s) => [projectId(s.candidate), s.candidate_soup_heldout_correct, s.accepted]),
  );
  assert.deepEqual(r.soup.metrics.correct, expected.greedy_soup.correct);
  assert.deepEqual(r.baselines.uniform.metrics.correct, expected.uniform_soup.correct);
  assert.deepEqual(r.baselines.ensemble.metrics.correct, expected.ensemble.logits_mean.correct);
}

/** Same names, dtypes and shapes in the same order, values within 1e-6, metadata {"format": "pt"}. */
async function assertSameSafetensors(gotFile: string, wantFile: string): Promise<void> {
  const got = await openWeights(gotFile);
  const want = await openWeights(wantFile);
  assert.deepEqual(got.metadata, { format: 'pt' });
  assert.deepEqual(got.tensors.map((t) => [t.name, t.dtype, t.shape]), want.tensors.map((t) => [t.name, t.dtype, t.shape]));
  const reader = new TensorReader();
  try {
    for (const [i, t] of got.tensors.entries()) {
      const a = await reader.readFloat64(t);
      const b = await reader.readFloat64(want.tensors[i]);
      let worst = 0;
      for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
      assert.ok(worst <= 1e-6, `${t.name}: max difference ${worst}`);
    }
  } finally {
    await reader.close();
  }
}

describe('checkpoint ingredients cooked through one ONNX export (fashion-ckpt)', function () {
  this.timeout(600_000);
  const config = loadConfig(CKPT_ZOO);
  let inspected: InspectedWorkspace;
  let out: string;
  let greedy: CookResult;
  let graphDir: string;

  before(async () => {
    out = await tempDir();
    inspected = await inspectRuns(CKPT_ZOO, config, fixtureRuns());
    const plan: CookPlan = { workspace: CKPT_ZOO, config, method: 'greedy', outDir: out, name: 'greedy' };
    const chosen = chooseFromInspected(plan, getSoupMethod('greedy'), inspected);
    greedy = await cookChosen(plan, chosen, new PhaseClock(), { outRoot: out });
    graphDir = chosen.graphSpace?.dir ?? '';
  });
  after(() => fsp.rm(out, { recursive: true, force: true }));

  it('scans checkpoint runs: dtype from the tensor table, the os.system pickle unreadable by name', () => {
    const byId = new Map(inspected.scan.runs.map((r) => [r.id, r]));
    const x13 = byId.get('sweep-x13');
    assert.equal(x13?.status, 'unreadable');
    assert.match(x13?.reason ?? '', /os\.system/);
    assert.equal(byId.get('runs/ft-11')?.weights?.dtype, 'bf16');
    assert.equal(byId.get('sweep-c09')?.weights?.dtype, 'f16');
    assert.equal(byId.get('runs/ft-00')?.weights?.dtype, 'f32');
    assert.equal(inspected.checkpoints.get('sweep-b05')?.prefix, 'module.');
    assert.equal(inspected.checkpoints.get('lightning_logs/version_0')?.prefix, 'model.');
    // Every readable checkpoint run is in the graph's group.
    assert.equal(inspected.scan.groups.length, 1);
    assert.deepEqual([...inspected.scan.groups[0].runIds].sort(), Object.keys(CKPT_INGREDIENTS).map(projectId).sort());
  });

  it('reproduces every count of expected.json: ingredients, greedy steps and members, uniform soup, ensemble', () => {
    assertGreedyAsExpected(greedy.report);
  });

  it('reports weights per ingredient and the graph mapping, and removes its temp folder', async () => {
    const r = JSON.parse(await fsp.readFile(path.join(greedy.dir, REPORT_FILE), 'utf8')) as typeof greedy.report;
    assert.deepEqual(r.ingredients.find((i) => i.id === 'runs/ft-11')?.weights, { file: 'runs/ft-11/model.safetensors', format: 'safetensors', dtype: 'bf16' });
    assert.deepEqual(r.ingredients.find((i) => i.id === 'runs/ft-08')?.weights?.format, 'safetensors-sharded');
    const mapped = Object.fromEntries((r.mapping?.bindings ?? []).map((b) => [b.initializer, [b.tensor, b.transposed]]));
    assert.deepEqual(mapped['onnx::MatMul_35'], ['fc1.weight', true]);
    assert.deepEqual(mapped['onnx::MatMul_36'], ['fc2.weight', true]);
    assert.deepEqual(mapped['conv1.weight'], ['conv1.weight', false]);
    assert.equal(r.mapping?.graph, 'pretrained/model.onnx');
    assert.equal(r.soup.weights?.endsWith(`greedy/${SOUP_WEIGHTS_FILE}`), true);
    assert.notEqual(graphDir, '');
    await assert.rejects(fsp.stat(graphDir), /ENOENT/);
  });

  it('writes model.safetensors equal to the PyTorch greedy soup (names, dtypes, values within 1e-6)', async () => {
    await assertSameSafetensors(path.join(greedy.dir, SOUP_WEIGHTS_FILE), path.join(CKPT_ZOO, 'expected', 'greedy_soup.safetensors'));
  });

  it('soup.onnx predicts exactly what the safetensors soup predicts', async () => {
    const soupOnnx = await readOnnxModel(path.join(greedy.dir, SOUP_MODEL_FILE));
    const graph = inspected.graph!;
    const mapping = await mapGraphToCheckpoint(graph.model, graph.reference);
    const space = await GraphSpace.open(graph.model, mapping);
    const ev = await Evaluator.create(soupOnnx, { batchSize: 500 });
    try {
      const table = checkpointTable(await openWeights(path.join(greedy.dir, SOUP_WEIGHTS_FILE)), graph.reference.tensors.map((t) => t.name));
      const fromSafetensors = await loadWeights((await space.materialise(table)).model);
      const ds = await openArrayFiles('test', 'data/test.npz', CKPT_ZOO);
      try {
        const a = await ev.run(await loadWeights(soupOnnx), ds, { keepLogits: true });
        const b = await ev.run(fromSafetensors, ds, { keepLogits: true });
        assert.equal(a.correct, expected.greedy_soup.correct.test);
        assert.equal(b.correct, a.correct);
        assert.deepEqual(b.logits, a.logits);
      } finally {
        await ds.close();
      }
    } finally {
      await ev.release();
      await space.close();
    }
  });
});

describe('uniform checkpoint soups', function () {
  this.timeout(600_000);
  const config = loadConfig(CKPT_ZOO);
  let out: string;
  let ins: InspectedWorkspace;
  before(async () => {
    out = await tempDir();
    ins = await inspectRuns(CKPT_ZOO, config, fixtureRuns());
  });
  after(() => fsp.rm(out, { recursive: true, force: true }));
  const cook = (name: string, ingredients?: string[]) => {
    const plan: CookPlan = { workspace: CKPT_ZOO, config, method: 'uniform', outDir: out, name, ingredients };
    return cookChosen(plan, chooseFromInspected(plan, getSoupMethod('uniform'), ins), new PhaseClock(), { outRoot: out });
  };

  it('of all twelve: the expected counts and model.safetensors equal to the PyTorch uniform soup', async () => {
    const r = await cook('all');
    assert.deepEqual([...r.report.soup.members].sort(), expected.uniform_soup.members.map(projectId).sort());
    assert.deepEqual(r.report.soup.metrics.correct, expected.uniform_soup.correct);
    await assertSameSafetensors(path.join(r.dir, SOUP_WEIGHTS_FILE), path.join(CKPT_ZOO, 'expected', 'uniform_soup.safetensors'));
  });

  it('copies the first member\'s config.json with torch_dtype set to the soup\'s dtype', async () => {
    // ft-11 (bf16, with config.json) alone stays bf16; with ft-00 (f32) the soup is f32.
    const alone = await cook('bf16', ['runs/ft-11']);
    const both = await cook('mixed-dtype', ['runs/ft-11', 'runs/ft-00']);
    const dtypeOf = async (dir: string) => (JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8')) as { torch_dtype: string }).torch_dtype;
    assert.equal(await dtypeOf(alone.dir), 'bfloat16');
    assert.equal(await dtypeOf(both.dir), 'float32');
    assert.deepEqual([...new Set((await openWeights(path.join(alone.dir, SOUP_WEIGHTS_FILE))).tensors.map((t) => t.dtype))], ['BF16']);
    // A one-member bf16 soup is that member, bit for bit.
    await assertSameSafetensors(path.join(alone.dir, SOUP_WEIGHTS_FILE), ckptFile('runs/ft-11/model.safetensors'));
    assert.deepEqual([...new Set((await openWeights(path.join(both.dir, SOUP_WEIGHTS_FILE))).tensors.map((t) => t.dtype))], ['F32']);
  });
});

describe('a mixed workspace (ONNX and checkpoint runs) cooks in graph space', function () {
  this.timeout(600_000);

  it('maps an ONNX run exported without constant folding onto the graph and gives the same soup', async () => {
    const config = loadConfig(CKPT_ZOO);
    // runs/ft-00 as the bundled example's ONNX export (Gemm with fc1.weight) instead of safetensors.
    const onnx = path.join(EXAMPLE, 'runs', 'ft-00', 'model.onnx');
    const runs = fixtureRuns().map((r): RunRecord => (r.id === 'runs/ft-00' ? { ...r, layout: 'hf', modelPath: onnx, weights: undefined, files: [onnx] } : r));
    const ins = await inspectRuns(CKPT_ZOO, config, runs);
    assert.equal(ins.scan.groups.length, 1);
    assert.equal(ins.checkpoints.get('runs/ft-00')?.table.format, 'onnx');
    const out = await tempDir();
    try {
      const plan: CookPlan = { workspace: CKPT_ZOO, config, method: 'greedy', outDir: out, name: 'mixed' };
      const r = await cookChosen(plan, chooseFromInspected(plan, getSoupMethod('greedy'), ins), new PhaseClock(), { outRoot: out });
      assertGreedyAsExpected(r.report);
      // The ONNX run's own file is the one fingerprinted.
      assert.equal(r.report.ingredients.find((i) => i.id === 'runs/ft-00')?.sha256, createHash('sha256').update(await fsp.readFile(onnx)).digest('hex'));
      // ft-00 is not a greedy member: the soup is all checkpoints and gets model.safetensors.
      await fsp.stat(path.join(r.dir, SOUP_WEIGHTS_FILE));
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });
});

describe('checkpoint runs that cannot join the graph group', function () {
  this.timeout(120_000);
  const config = loadConfig(CKPT_ZOO);

  it('marks a run whose tensors differ `incompatible`, naming the first tensor; a checkpoint pretrained joins the group', async () => {
    const dir = await tempDir();
    try {
      const file = path.join(dir, 'model.safetensors');
      // fc2 with 12 classes instead of 10.
      const ref = await openWeights(ckptFile('pretrained/model.safetensors'));
      const specs = ref.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.name.startsWith('fc2') ? [12, ...t.shape.slice(1)] : t.shape }));
      await writeSafetensorsFile(file, specs, (i) => new Float32Array(specs[i].shape.reduce((a, b) => a * b, 1)));
      const runs = fixtureRuns().filter((r) => r.id === 'runs/ft-00');
      runs.push({ id: 'odd', layout: 'plain', dir, modelPath: file, weights: { file, format: 'safetensors' }, files: [file], heldout: 0.5, hparams: {}, status: 'ok' });
      const ins = await inspectRuns(CKPT_ZOO, config, runs);
      const odd = ins.scan.runs.find((r) => r.id === 'odd');
      assert.equal(odd?.status, 'incompatible');
      assert.match(odd?.reason ?? '', /tensor "fc2\.weight" is \[12, 64\], model\.safetensors has \[10, 64\]/);
      assert.equal(ins.scan.pretrained?.architecture, ins.graph?.model.architectureKey);
      assert.equal(ins.scan.runs.find((r) => r.id === 'runs/ft-00')?.status, 'ok');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('marks checkpoint runs unreadable, saying what to set, when no graph is configured', async () => {
    const ins = await inspectRuns(CKPT_ZOO, { ...config, graph: undefined, pretrained: undefined }, fixtureRuns().slice(0, 2));
    for (const r of ins.scan.runs) {
      assert.equal(r.status, 'unreadable');
      assert.match(r.reason ?? '', /set "graph" in modelsoups\.json/);
    }
  });

  it('removes its temp folder when materialising is cancelled', async () => {
    const ins = await inspectRuns(CKPT_ZOO, config, fixtureRuns());
    const plan: CookPlan = { workspace: CKPT_ZOO, config, method: 'uniform' };
    const chosen = chooseFromInspected(plan, getSoupMethod('uniform'), ins);
    const temps = async () => (await fsp.readdir(os.tmpdir())).filter((n) => n.startsWith('model-soup-graph-')).length;
    const before = await temps();
    const ac = new AbortController();
    await assert.rejects(
      enterGraphSpace(chosen, { signal: ac.signal, progress: (done) => (done === 2 ? ac.abort() : undefined) }),
      (err: unknown) => (err as { code?: string }).code === 'CANCELLED',
    );
    assert.equal(chosen.graphSpace, undefined);
    assert.equal(await temps(), before);
  });
});

describe('graph space reads float32 tensors in the graph\'s layout where they are', function () {
  this.timeout(120_000);

  it('points float32 weights into the checkpoint file, writes transposed and bf16 ones to its temp folder, and reads the same values', async () => {
    const ins = await inspectRuns(CKPT_ZOO, loadConfig(CKPT_ZOO), fixtureRuns());
    const graph = ins.graph!;
    const mapping = await mapGraphToCheckpoint(graph.model, graph.reference);
    const space = await GraphSpace.open(graph.model, mapping);
    const reader = new TensorReader();
    try {
      const f32 = ins.checkpoints.get('runs/ft-00')!;
      const bf16 = ins.checkpoints.get('runs/ft-11')!;
      const a = await space.materialise(f32);
      const b = await space.materialise(bf16);
      const values = await loadWeights(a.model);
      let inPlace = 0;
      for (const [i, w] of a.model.weights.entries()) {
        const binding = space.bindingOf(i);
        if (!binding) continue;
        const t = f32.tensors.get(binding.tensor)!;
        assert.equal(w.data.kind, 'external');
        if (w.data.kind !== 'external' || b.model.weights[i].data.kind !== 'external') continue;
        // The fixture's graph was exported with constant folding: its MatMul weights are transposes.
        if (binding.transposed) assert.equal(path.dirname(w.data.file), space.dir, w.name);
        else {
          assert.deepEqual([w.data.file, w.data.offset], [t.file, t.dataOffset], w.name);
          assert.deepEqual(values[i], await reader.read(t), w.name);
          inPlace++;
        }
        assert.equal(path.dirname(b.model.weights[i].data.file), space.dir, `bf16 ${w.name} is converted`);
      }
      assert.ok(inPlace > 0 && inPlace < mapping.bindings.length, `${inPlace} of ${mapping.bindings.length} in place`);
    } finally {
      await Promise.all([space.close(), reader.close()]);
    }
  });

  it('writes nothing for a graph exported without constant folding: the bundled example\'s ONNX export over the same run\'s safetensors', async () => {
    // The bundled example's runs/ft-00 is the fixture's runs/ft-00 exported to ONNX (Gemm, fc1.weight as saved).
    const onnx = await readOnnxModel(path.join(EXAMPLE, 'runs', 'ft-00', 'model.onnx'));
    const table = await openWeights(ckptFile('runs/ft-00/model.safetensors'));
    const mapping = await mapGraphToCheckpoint(onnx, table);
    assert.ok(mapping.bindings.length > 0 && mapping.bindings.every((b) => !b.transposed));
    const space = await GraphSpace.open(onnx, mapping);
    try {
      const { model } = await space.materialise(checkpointTable(table, table.tensors.map((t) => t.name)));
      assert.deepEqual(await fsp.readdir(space.dir), []);
      assert.deepEqual(await loadWeights(model), await loadWeights(onnx));
    } finally {
      await space.close();
    }
  });
});

describe('greedy candidates of half-precision members', function () {
  this.timeout(120_000);

  it('are scored as stored: an all-bf16 candidate mean is rounded to bf16, a mixed one stays float32', async () => {
    const config = loadConfig(CKPT_ZOO);
    const ins = await inspectRuns(CKPT_ZOO, config, fixtureRuns());
    const graph = ins.graph!;
    const dir = await tempDir();
    const space = await GraphSpace.open(graph.model, await mapGraphToCheckpoint(graph.model, graph.reference));
    const reader = new TensorReader();
    try {
      // A second bf16 member: ft-00 stored as bf16.
      const src = await openWeights(ckptFile('runs/ft-00/model.safetensors'));
      const file = path.join(dir, 'model.safetensors');
      const specs = src.tensors.map((t) => ({ name: t.name, dtype: 'BF16' as const, shape: t.shape }));
      await writeSafetensorsFile(file, specs, async (i) => roundToHalf('BF16', (await reader.read(src.tensors[i])) as Float32Array));
      const names = graph.reference.tensors.map((t) => t.name);
      const bf = await space.materialise(ins.checkpoints.get('runs/ft-11')!);
      const bf2 = await space.materialise(checkpointTable(await openWeights(file), names));
      const f32 = await space.materialise(ins.checkpoints.get('runs/ft-00')!);
      const stored = new Map([[bf.model, bf.dtypes], [bf2.model, bf2.dtypes], [f32.model, f32.dtypes]]);
      const [a, a2, b] = [await loadWeights(bf.model), await loadWeights(bf2.model), await loadWeights(f32.model)];
      const halves = await storedMean([bf.model, bf2.model], stored);
      const mixed = await storedMean([bf.model, f32.model], stored);
      let differ = 0;
      for (let t = 0; t < a.length; t++) {
        const mapped = bf.dtypes[t] !== undefined;
        for (let k = 0; k < a[t].length; k++) {
          const m2 = Math.fround((a[t][k] + a2[t][k]) / 2);
          assert.equal(halves[t][k], mapped ? bf16ToNumber(float32ToBf16(m2)) : m2);
          assert.equal(mixed[t][k], Math.fround((a[t][k] + b[t][k]) / 2));
          if (halves[t][k] !== m2) differ++;
        }
      }
      // Rounding really happened (the float32 means hold values bf16 cannot).
      assert.ok(differ > 0);
    } finally {
      await Promise.all([space.close(), reader.close()]);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the "graph" key', () => {
  it('is read from modelsoups.json, replaced by --graph and validated as a string', () => {
    assert.equal(loadConfig(CKPT_ZOO).graph, 'pretrained/model.onnx');
    assert.equal(configFromArgs(CKPT_ZOO, parseArgs(['--graph', 'export/model.onnx'], CONFIG_FLAGS, [])).graph, 'export/model.onnx');
    assert.throws(() => parseConfig({ graph: 3 }, 'inline'), /graph/);
  });
});

describe('soup precision rule', () => {
  it('keeps bf16/f16 only when every member stores it so, rounding float32 means to nearest even', () => {
    assert.deepEqual(soupDtypes([['BF16', 'F16', 'BF16', undefined], ['BF16', 'F16', 'F32', undefined]], 4), ['BF16', 'F16', 'F32', 'F32']);
    assert.deepEqual(soupDtypes([['BF16'], ['F16']], 1), ['F32']);
    // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0); just above goes up.
    const w = [new Float32Array([1 + 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3.14159]), new Float32Array([1 + 2 ** -8])];
    roundAsStored(w, ['BF16', 'F32']);
    assert.deepEqual([...w[0]], [1, 1 + 2 ** -7, bf16ToNumber(float32ToBf16(-3.14159))]);
    assert.deepEqual([...w[1]], [Math.fround(1 + 2 ** -8)]);
  });
});
