/**
 * The checkpoint readers on the fashion-ckpt fixture: every run's state dict (safetensors, shards,
 * torch zip, Lightning), dtypes, wrapper prefixes, Lightning callback state, the refused evil
 * pickle, the graph mapping, and soups recomputed from the read values against the generator's.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { chooseWrapperPrefix } from '../../src/engine/checkpoints/namePrefix';
import { mapGraphToCheckpoint } from '../../src/engine/checkpoints/graphMapping';
import { openWeights, type WeightsTable } from '../../src/engine/checkpoints/weightsFile';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { readSafetensorsHeader } from '../../src/engine/formats/safetensors';
import { writeSafetensorsFile } from '../../src/engine/formats/safetensorsWrite';
import { float32ToBf16, floatsInto, roundToHalf } from '../../src/engine/formats/tensorDtypes';
import { TensorReader, type TensorEntry } from '../../src/engine/formats/tensorRead';
import { readTorchWeights } from '../../src/engine/formats/torchCheckpoint';
import { expectSoupError } from './fuzz/outcome';
import { CKPT_INGREDIENTS, ckptFile } from './helpers/ckptZoo';
import { tempDir } from './helpers/paths';

interface CkptExpected {
  ingredients: { id: string; dtype: string }[];
  greedy_soup: { members: string[]; dtype: string };
  uniform_soup: { members: string[]; dtype: string };
  graph: { initializers: string[]; renamed: string[] };
}

const PRETRAINED = ckptFile('pretrained/model.safetensors');

async function readAll(table: { tensors: readonly TensorEntry[] }, names?: Map<string, string>): Promise<Map<string, Float64Array>> {
  const reader = new TensorReader();
  try {
    const out = new Map<string, Float64Array>();
    for (const t of table.tensors) out.set(names?.get(t.name) ?? t.name, await reader.readFloat64(t));
    return out;
  } finally {
    await reader.close();
  }
}

/** An ingredient's tensors under the architecture's names (its wrapper prefix stripped). */
async function ingredient(id: string, reference: WeightsTable): Promise<{ table: WeightsTable; rename: Map<string, string>; prefix: string }> {
  const table = await openWeights(ckptFile(CKPT_INGREDIENTS[id].file));
  const choice = chooseWrapperPrefix(table.tensors.map((t) => t.name), reference.tensors.map((t) => t.name));
  return { table, rename: choice.rename, prefix: choice.prefix };
}

/** The generator's soup rule: float64 mean -> float32 -> bf16/f16 when every member is so. */
function soupOf(members: Map<string, Float64Array>[], dtype: string): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const name of members[0].keys()) {
    const sum = new Float64Array(members[0].get(name)!.length);
    for (const m of members) m.get(name)!.forEach((v, i) => (sum[i] += v));
    const mean = Float32Array.from(sum, (v) => v / members.length);
    const stored = new Float64Array(mean.length);
    if (dtype === 'f32') stored.set(mean);
    else {
      const half = dtype === 'bf16' ? 'BF16' : 'F16';
      floatsInto(half, roundToHalf(half, mean), stored);
    }
    out.set(name, stored);
  }
  return out;
}

describe('checkpoint readers on fashion-ckpt', function () {
  let expected: CkptExpected;
  let reference: WeightsTable;

  before(async () => {
    expected = JSON.parse(await fsp.readFile(ckptFile('expected.json'), 'utf8')) as CkptExpected;
    reference = await openWeights(PRETRAINED);
  });

  it('reads the state dict of every run with the architecture names, dtypes and shapes', async () => {
    const refShapes = new Map(reference.tensors.map((t) => [t.name, t.shape]));
    assert.equal(reference.format, 'safetensors');
    assert.ok(refShapes.size >= 8);
    for (const [id, spec] of Object.entries(CKPT_INGREDIENTS)) {
      const { table, rename, prefix } = await ingredient(id, reference);
      assert.equal(prefix, spec.prefix, `${id}: prefix`);
      assert.deepEqual(table.tensors.map((t) => rename.get(t.name)).sort(), [...refShapes.keys()].sort(), `${id}: names`);
      for (const t of table.tensors) {
        assert.deepEqual(t.shape, refShapes.get(rename.get(t.name)!), `${id}: shape of ${t.name}`);
        assert.equal(t.dtype, spec.dtype, `${id}: dtype of ${t.name}`);
      }
    }
  });

  it('names each file format: safetensors, shards, torch zip', async () => {
    assert.equal((await openWeights(ckptFile('runs/ft-08/model.safetensors.index.json'))).format, 'safetensors-sharded');
    assert.equal((await openWeights(ckptFile('runs/ft-08/model.safetensors.index.json'))).files.length, 2);
    assert.equal((await openWeights(ckptFile('runs/ft-10/pytorch_model.bin'))).format, 'torch');
    assert.equal((await openWeights(ckptFile('sweep-c09/model.safetensors'))).format, 'safetensors');
  });

  it('recomputes the uniform and greedy soups from the read values (bf16, f16 and f32 members)', async () => {
    const values = new Map<string, Map<string, Float64Array>>();
    for (const id of Object.keys(CKPT_INGREDIENTS)) {
      const { table, rename } = await ingredient(id, reference);
      values.set(id, await readAll(table, rename));
    }
    for (const [soup, file] of [['uniform_soup', 'expected/uniform_soup.safetensors'], ['greedy_soup', 'expected/greedy_soup.safetensors']] as const) {
      const spec = expected[soup];
      const mine = soupOf(spec.members.map((m) => values.get(m)!), spec.dtype);
      const theirs = await readAll(await openWeights(ckptFile(file)));
      assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
      for (const [name, v] of mine) {
        const w = theirs.get(name)!;
        let worst = 0;
        v.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - w[i]))));
        assert.ok(worst <= 1e-6, `${soup} ${name}: off by ${worst}`);
      }
    }
  });

  it('reads bf16 (ft-11) and f16 (sweep-c09) as values those types hold exactly', async () => {
    for (const [id, dtype] of [['runs/ft-11', 'BF16'], ['sweep-c09', 'F16']] as const) {
      const table = await openWeights(ckptFile(CKPT_INGREDIENTS[id].file));
      const reader = new TensorReader();
      try {
        for (const t of table.tensors) {
          const raw = (await reader.readRaw(t)) as Uint16Array;
          const f32 = (await reader.read(t)) as Float32Array;
          assert.ok(f32 instanceof Float32Array);
          // Converting back gives the stored bits: the widening was exact.
          assert.deepEqual(roundToHalf(dtype, f32), raw, `${id} ${t.name}`);
          assert.ok(f32.some((x) => x !== 0) && f32.every(Number.isFinite), `${id} ${t.name}: values`);
        }
      } finally {
        await reader.close();
      }
    }
    assert.equal(float32ToBf16(1), 0x3f80);
  });

  it('exposes Lightning epoch, step and the ModelCheckpoint best path and score', async () => {
    const best = await readTorchWeights(ckptFile(CKPT_INGREDIENTS['lightning_logs/version_0'].file));
    assert.deepEqual(best.stateDictPath, ['state_dict']);
    assert.equal(best.training.epoch, 2);
    assert.equal(best.training.globalStep, 140);
    const cb = best.training.checkpointCallback!;
    assert.equal(cb.monitor, 'val_acc');
    assert.equal(path.posix.basename(cb.bestModelPath!), 'epoch=2-step=140.ckpt');
    assert.equal(cb.bestModelScore, 0.8775);
    assert.equal(path.posix.basename(cb.lastModelPath!), 'last.ckpt');
    const last = await readTorchWeights(ckptFile('lightning_logs/version_0/checkpoints/last.ckpt'));
    assert.equal(last.training.epoch, 3);
    assert.equal(path.posix.basename(last.training.checkpointCallback!.bestModelPath!), 'epoch=2-step=140.ckpt');
    const weightsOnly = await readTorchWeights(ckptFile(CKPT_INGREDIENTS['lightning_logs/version_1'].file));
    assert.equal(weightsOnly.training.checkpointCallback, undefined);
    assert.equal(weightsOnly.training.globalStep, 469);
  });

  it('reads version_2 although hyper_parameters holds a pickled user class (an inert placeholder)', async () => {
    const w = await readTorchWeights(ckptFile(CKPT_INGREDIENTS['lightning_logs/version_2'].file));
    assert.ok(w.foreignGlobals.includes('fashion_train.config.TrainConfig'), w.foreignGlobals.join(', '));
    assert.deepEqual(w.foreignCalls, []);
    assert.equal(w.tensors.length, reference.tensors.length);
    assert.equal(w.training.checkpointCallback?.bestModelScore !== undefined, true);
  });

  it('refuses sweep-x13, whose pickle calls os.system, naming the global; nothing runs', async () => {
    const file = ckptFile('sweep-x13/model.pt');
    await expectSoupError(() => openWeights(file), 'CHECKPOINT_UNSAFE', file, /os\.system/);
    await assert.rejects(fsp.access('/tmp/model-soups-evil-pickle-ran'));
  });

  it('maps the graph initializers onto the pretrained checkpoint: onnx::MatMul_N are fc weights transposed', async () => {
    const graph = await readOnnxModel(ckptFile('pretrained/model.onnx'));
    const mapping = await mapGraphToCheckpoint(graph, reference);
    assert.deepEqual(mapping.bindings.map((b) => b.initializer), expected.graph.initializers);
    const by = new Map(mapping.bindings.map((b) => [b.initializer, b]));
    assert.deepEqual(expected.graph.renamed.map((n) => [by.get(n)!.tensor, by.get(n)!.transposed]), [['fc1.weight', true], ['fc2.weight', true]]);
    for (const b of mapping.bindings) if (!b.initializer.startsWith('onnx::')) assert.deepEqual([b.tensor, b.transposed, b.by], [b.initializer, false, 'name']);
    assert.deepEqual(mapping.keptConstants, []);
    assert.deepEqual(mapping.unusedTensors, []);
  });

  it('refuses a graph initializer that matches nothing, saying how to export', async () => {
    const graph = await readOnnxModel(ckptFile('pretrained/model.onnx'));
    // Against a checkpoint without fc1.weight, onnx::MatMul_35 has no source.
    const partial = { file: PRETRAINED, tensors: reference.tensors.filter((t) => t.name !== 'fc1.weight') };
    await expectSoupError(() => mapGraphToCheckpoint(graph, partial), 'GRAPH_UNMAPPED', graph.path, /onnx::MatMul_35.*do_constant_folding=False/s);
  });

  it('writes safetensors that read back identically (F32, F16, BF16, aligned header, format pt)', async () => {
    const dir = await tempDir();
    try {
      const file = path.join(dir, 'model.safetensors');
      const a = Float32Array.from([1, -2.5, 3.25, 1e-8, 65504, NaN, Infinity, -0]);
      const specs = [
        { name: 'a.f32', dtype: 'F32', shape: [2, 4] },
        { name: 'b.f16', dtype: 'F16', shape: [8] },
        { name: 'c.bf16', dtype: 'BF16', shape: [4, 2] },
        { name: 'd.i64', dtype: 'I64', shape: [3] },
      ] as const;
      const data = [a, roundToHalf('F16', a), roundToHalf('BF16', a), BigInt64Array.from([1n, -2n, 3n])];
      await writeSafetensorsFile(file, specs, (i) => data[i]);
      const header = await readSafetensorsHeader(file);
      assert.equal(header.dataStart % 8, 0);
      assert.deepEqual(header.metadata, { format: 'pt' });
      const table = await openWeights(file);
      const reader = new TensorReader();
      try {
        for (const [i, t] of table.tensors.entries()) {
          assert.deepEqual([t.name, t.dtype, t.shape], [specs[i].name, specs[i].dtype, [...specs[i].shape]]);
          assert.deepEqual(await reader.readRaw(t), data[i]);
        }
        const bf16 = Array.from((await reader.read(table.tensors[2])) as Float32Array);
        assert.deepEqual([bf16[0], bf16[1], bf16[2], bf16[4], bf16[6]], [1, -2.5, 3.25, 65536, Infinity]);
        assert.ok(Number.isNaN(bf16[5]) && Object.is(bf16[7], -0));
      } finally {
        await reader.close();
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the expected greedy soup file', async () => {
    const table = await openWeights(ckptFile('expected/greedy_soup.safetensors'));
    assert.deepEqual(table.tensors.map((t) => t.name).sort(), reference.tensors.map((t) => t.name).sort());
    assert.ok(table.tensors.every((t) => t.dtype === 'F32'));
  });
});
