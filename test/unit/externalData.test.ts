import * as assert from 'node:assert/strict';
import { promises as fsp, utimesSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import { SoupError } from '../../src/engine/errors';
import { EXTERNAL_ALIGNMENT, encodeOnnxModel, mlpGraph, writeOnnxModel } from '../synthetic/onnxBuild';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { writePatchedModel } from '../../src/engine/formats/onnxWrite';
import type { WeightSet } from '../../src/engine/soups/weights';
import { loadWeights, WeightReader, WeightSum } from '../../src/engine/soups/weights';
import { generateZoo, ingredientTensor } from '../../scripts/bench/zoo';

const SIZES = [12, 16, 8, 5];
const SEED = 11;

describe('ONNX external data', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-extdata-'));
  });
  afterEach(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const graph = mlpGraph(SIZES);
  const tensors = (k: number) => graph.initializers.map((_, i) => ingredientTensor(graph, SEED, k, i));

  async function writeExternal(dir: string, k: number): Promise<string> {
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, 'model.onnx');
    const data = tensors(k);
    await writeOnnxModel(file, graph, (i) => data[i], { externalData: 'model.onnx.data' });
    return file;
  }

  it('finds every weight of a model written with external data as external, aligned, with its exact bytes', async () => {
    const file = await writeExternal(tmp, 0);
    const model = await readOnnxModel(file);
    assert.deepEqual(model.weights.map((w) => w.name), graph.initializers.map((t) => t.name));
    const dataFile = await fsp.realpath(path.join(tmp, 'model.onnx.data'));
    for (const [i, w] of model.weights.entries()) {
      assert.equal(w.data.kind, 'external', w.name);
      if (w.data.kind !== 'external') continue;
      assert.equal(w.data.location, 'model.onnx.data');
      assert.equal(w.data.file, dataFile);
      assert.equal(w.data.offset % EXTERNAL_ALIGNMENT, 0, `${w.name} offset is aligned`);
      assert.equal(w.data.length, graph.initializers[i].dims.reduce((a, b) => a * b, 1) * 4);
    }
    // The .onnx file holds only the structure.
    assert.ok(model.fileSize < 2000, `model.onnx is ${model.fileSize} bytes`);
    assert.deepEqual(await loadWeights(model), tensors(0));
  });

  it('runs in onnxruntime from its path and gives the same logits as the same weights stored inline', async () => {
    const file = await writeExternal(tmp, 1);
    const inline = encodeOnnxModel(graph, tensors(1));
    const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * SIZES[0] }, (_, j) => Math.sin(j)), [3, SIZES[0]]);
    const a = await ort.InferenceSession.create(file);
    const b = await ort.InferenceSession.create(inline);
    try {
      const ya = (await a.run({ x })).logits.data as Float32Array;
      const yb = (await b.run({ x })).logits.data as Float32Array;
      assert.equal(ya.length, 3 * SIZES[SIZES.length - 1]);
      assert.deepEqual(ya, yb);
    } finally {
      await a.release();
      await b.release();
    }
  });

  it('writes a soup of external-data members as a copy with its own patched data file, loadable by onnxruntime, equal to the in-memory mean', async () => {
    const files = [0, 1, 2].map((k) => path.join(tmp, `m${k}`));
    const models = [];
    for (const [k, dir] of files.entries()) models.push(await readOnnxModel(await writeExternal(dir, k)));
    const sum = new WeightSum(models[0]);
    for (const m of models) await sum.add(m);
    const mean = await sum.meanWith(undefined);

    // The float64 mean computed in memory, rounded to float32.
    const members = [tensors(0), tensors(1), tensors(2)];
    const expected: WeightSet = members[0].map((t, i) => t.map((_, j) => (members[0][i][j] + members[1][i][j] + members[2][i][j]) / 3));
    assert.deepEqual(mean, expected);

    const templateData = await fsp.readFile(path.join(files[0], 'model.onnx.data'));
    const out = path.join(tmp, 'soup');
    await fsp.mkdir(out);
    const soupFile = await writePatchedModel(models[0], mean, out, 'soup.onnx');
    assert.deepEqual(await fsp.readFile(path.join(files[0], 'model.onnx.data')), templateData, 'the template data file is only read');

    const soup = await readOnnxModel(soupFile);
    const soupDataFile = await fsp.realpath(path.join(out, 'model.onnx.data'));
    for (const w of soup.weights) assert.ok(w.data.kind === 'external' && w.data.file === soupDataFile, `${w.name} points at the soup's own data file`);
    assert.deepEqual(await loadWeights(soup), expected);

    const x = new ort.Tensor('float32', Float32Array.from({ length: 4 * SIZES[0] }, (_, j) => Math.cos(j * 0.37)), [4, SIZES[0]]);
    const fromFile = await ort.InferenceSession.create(soupFile);
    const fromMemory = await ort.InferenceSession.create(encodeOnnxModel(graph, expected));
    try {
      assert.deepEqual((await fromFile.run({ x })).logits.data, (await fromMemory.run({ x })).logits.data);
    } finally {
      await fromFile.release();
      await fromMemory.release();
    }
  });

  it('cooks a greedy soup end to end from runs stored with external data', async () => {
    const zoo = await generateZoo(tmp, { sizes: SIZES, k: 3, external: true, heldoutN: 40, seed: SEED, batchSize: 16 });
    const config = parseConfig(JSON.parse(await fsp.readFile(path.join(tmp, 'modelsoups.json'), 'utf8')), 'modelsoups.json');
    const { report, dir } = await cookSoup({ workspace: tmp, config, method: 'greedy', name: 'g' });
    assert.equal(report.steps.length, 3);
    assert.deepEqual(report.soup.members, report.steps.filter((s) => s.added).map((s) => s.candidate));
    const soup = await readOnnxModel(path.join(dir, 'soup.onnx'));
    assert.ok(soup.weights.every((w) => w.data.kind === 'external'));
    const ks = report.soup.members.map((id) => zoo.runIds.indexOf(id));
    const members = ks.map((k) => tensors(k));
    const expected = members[0].map((t, i) => t.map((_, j) => members.reduce((s, m) => s + m[i][j], 0) / members.length));
    assert.deepEqual(await loadWeights(soup), expected);
  });

  it('fails the cook, writing nothing, when an external data file is rewritten mid-cook', async () => {
    const zoo = await generateZoo(tmp, { sizes: SIZES, k: 3, external: true, heldoutN: 40, seed: SEED, batchSize: 16 });
    const config = parseConfig(JSON.parse(await fsp.readFile(path.join(tmp, 'modelsoups.json'), 'utf8')), 'modelsoups.json');
    const victim = path.join(tmp, zoo.runIds[1], 'model.onnx.data');
    let touched = false;
    await assert.rejects(
      cookSoup(
        { workspace: tmp, config, method: 'uniform', outDir: path.join(tmp, 'out') },
        {
          onProgress: (p) => {
            if (!touched && p.phase === 'soup') {
              touched = true;
              // Same bytes, new time: what a re-export or a sync tool leaves behind.
              const later = new Date(Date.now() + 5000);
              utimesSync(victim, later, later);
            }
          },
        },
      ),
      (err: unknown) => err instanceof SoupError && err.code === 'INGREDIENT_CHANGED' && err.message.startsWith(victim),
    );
    assert.ok(touched);
    assert.deepEqual(await fsp.readdir(path.join(tmp, 'out')).catch(() => []), []);
  });

  it('refuses external data that is a symlink leading outside the model folder', async () => {
    const dir = path.join(tmp, 'model');
    const file = await writeExternal(dir, 0);
    const outside = path.join(tmp, 'elsewhere.data');
    await fsp.rename(path.join(dir, 'model.onnx.data'), outside);
    await fsp.symlink(outside, path.join(dir, 'model.onnx.data'));
    await assert.rejects(readOnnxModel(file), (err: unknown) => err instanceof SoupError && err.code === 'ONNX_INVALID' && /outside the model's folder/.test(err.message));
  });

  it('rejects an external data file too short for its tensors, before reading any weight', async () => {
    const file = await writeExternal(tmp, 0);
    const dataFile = path.join(tmp, 'model.onnx.data');
    const st = await fsp.stat(dataFile);
    await fsp.truncate(dataFile, st.size - 4);
    await assert.rejects(readOnnxModel(file), (err: unknown) => err instanceof SoupError && err.code === 'ONNX_INVALID' && /outside "model.onnx.data"/.test(err.message));
  });

  it('reports a data file that shrank after the scan as a changed ingredient', async () => {
    const file = await writeExternal(tmp, 0);
    const model = await readOnnxModel(file);
    await fsp.truncate(path.join(tmp, 'model.onnx.data'), 0);
    const reader = new WeightReader(model);
    try {
      await assert.rejects(reader.readAll(), (err: unknown) => err instanceof SoupError && err.code === 'INGREDIENT_CHANGED');
    } finally {
      await reader.close();
    }
  });
});
