import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkpointTable } from '../../src/engine/checkpoints/checkpointTable';
import { mapGraphToCheckpoint } from '../../src/engine/checkpoints/graphMapping';
import { GraphSpace } from '../../src/engine/checkpoints/graphSpace';
import { roundAsStored, soupDtypes } from '../../src/engine/checkpoints/storedPrecision';
import { openWeights } from '../../src/engine/checkpoints/weightsFile';
import { loadConfig } from '../../src/engine/config';
import type { CookPlan } from '../../src/engine/cookPlan';
import { chooseFromInspected } from '../../src/engine/cookPhases';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookChosen } from '../../src/engine/cookSoup';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import type { RunRecord } from '../../src/engine/discovery/runRecord';
import type { InspectedWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { inspectRuns } from '../../src/engine/discovery/scanWorkspace';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { bf16ToNumber, float32ToBf16 } from '../../src/engine/formats/tensorDtypes';
import { TensorReader } from '../../src/engine/formats/tensorRead';
import { PhaseClock } from '../../src/engine/phaseClock';
import { REPORT_FILE, SOUP_MODEL_FILE, SOUP_WEIGHTS_FILE } from '../../src/engine/report';
import { getSoupMethod } from '../../src/engine/soups/registry';
import { loadWeights } from '../../src/engine/soups/weights';
import { CKPT_INGREDIENTS, CKPT_ZOO, ckptFile } from './helpers/ckptZoo';
import { tempDir } from './helpers/paths';

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
    const r = greedy.report;
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
    const got = await openWeights(path.join(greedy.dir, SOUP_WEIGHTS_FILE));
    const want = await openWeights(path.join(CKPT_ZOO, 'expected', 'greedy_soup.safetensors'));
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
