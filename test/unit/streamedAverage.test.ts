import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BuildGraph } from '../synthetic/onnxBuild';
import { mlpGraph } from '../synthetic/onnxBuild';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import { OnnxDataType } from '../../src/engine/formats/onnxSchema';
import type { WeightArray, WeightSet } from '../../src/engine/soups/weights';
import { loadWeights, WeightSum } from '../../src/engine/soups/weights';
import { xorshift } from '../../scripts/bench/zoo';
import { inMemoryMean, writeMembers } from './helpers/members';

/**
 * A graph with tensors of very different sizes (the largest in the middle, so the shared scratch
 * buffer is reused by smaller tensors before and after it) and one float64 tensor.
 */
function testGraph(): BuildGraph {
  const g = mlpGraph([40, 300, 1000, 3]); // fc1.weight is 1.2 MB: streamed in more than one piece
  g.initializers.push({ name: 'scale', dims: [3, 2], dataType: OnnxDataType.DOUBLE });
  return g;
}

/** Member k's weights, with values of widely different magnitudes so rounding order matters. */
function memberWeights(g: BuildGraph, k: number): WeightSet {
  const rng = xorshift(1000 + k);
  return g.initializers.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const arr: WeightArray = t.dataType === OnnxDataType.DOUBLE ? new Float64Array(n) : new Float32Array(n);
    for (let j = 0; j < n; j++) arr[j] = (rng() - 0.5) * 10 ** Math.floor(rng() * 8 - 4);
    return arr;
  });
}

describe('streamed averaging (WeightSum)', () => {
  let tmp: string;
  const g = testGraph();
  const members = [0, 1, 2, 3, 4].map((k) => memberWeights(g, k));
  let models: OnnxModelInfo[];

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-average-'));
    models = await writeMembers(tmp, g, members);
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('reads back exactly the weights written, inline or external, float32 and float64', async () => {
    assert.equal(models[0].weights[0].data.kind, 'inline');
    assert.equal(models[1].weights[0].data.kind, 'external');
    assert.equal(models[0].weights[models[0].weights.length - 1].dataType, OnnxDataType.DOUBLE);
    for (const [k, m] of models.entries()) assert.deepEqual(await loadWeights(m), members[k], `member ${k}`);
  });

  it('streams a uniform soup equal, bit for bit, to the float64 mean computed in memory', async () => {
    const sum = new WeightSum(models[0]);
    for (const m of models) await sum.add(m);
    assert.equal(sum.count, models.length);
    const streamed = await sum.meanWith(undefined);
    const expected = inMemoryMean(members);
    assert.deepEqual(streamed, expected);
    // Not a vacuous check: rounding each partial mean to float32 would give other values.
    const roundedEachStep = members[0].map((t, i) => t.map((_, j) => members.reduce((s, m) => Math.fround(s + m[i][j]), 0) / members.length));
    assert.notDeepEqual(streamed[0], roundedEachStep[0]);
  });

  it('tries a candidate with meanWith without changing the running sums', async () => {
    const sum = new WeightSum(models[0]);
    await sum.add(models[0]);
    await sum.add(models[1]);
    const scratch = await sum.meanWith(models[2]);
    assert.deepEqual(scratch, inMemoryMean(members.slice(0, 3)));
    // The scratch set is reused for the next candidate, and the members are still 0 and 1.
    const again = await sum.meanWith(models[3], scratch);
    assert.equal(again, scratch);
    assert.deepEqual(again, inMemoryMean([members[0], members[1], members[3]]));
    assert.equal(sum.count, 2);
    assert.deepEqual(await sum.meanWith(undefined), inMemoryMean(members.slice(0, 2)));
  });

  it('gives the same soup whichever member layout serves as the template', async () => {
    const a = new WeightSum(models[0]);
    const b = new WeightSum(models[1]);
    for (const m of models) {
      await a.add(m);
      await b.add(m);
    }
    assert.deepEqual(await a.meanWith(undefined), await b.meanWith(undefined));
  });

  it('refuses to average zero models', async () => {
    await assert.rejects(new WeightSum(models[0]).meanWith(undefined), /cannot average zero models/);
  });
});
