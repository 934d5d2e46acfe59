import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, parseConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import { scanWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { SoupError } from '../../src/engine/errors';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { onnxTypes } from '../../src/engine/formats/onnxSchema';
import { lengthDelimited, tag, varint } from '../../src/engine/formats/protoWire';
import { encodeNpy, encodeNpz, f32, i64 } from './helpers/npzWriter';
import { copyFromExample, EXAMPLE, tempDir } from './helpers/paths';

/** A copy of `model` with fc1 narrowed to `width` units: same graph, different weight shapes. */
async function narrowedModel(model: string, width: number): Promise<Buffer> {
  const info = await readOnnxModel(model);
  const shapes: Record<string, number[]> = { 'fc1.weight': [width, 1568], 'fc1.bias': [width], 'fc2.weight': [10, width] };
  const tensors = info.weights.map((w) => {
    const dims = shapes[w.name] ?? w.dims;
    const n = dims.reduce((a, b) => a * b, 1);
    const body = onnxTypes.tensor.encode({ dims, data_type: 1, name: w.name, raw_data: new Uint8Array(n * 4) }).finish();
    return lengthDelimited(5, body);
  });
  return Buffer.concat([tag(1, 0), varint(info.irVersion), ...info.modelFields, lengthDelimited(7, Buffer.concat([...info.graphFields, ...tensors]))]);
}

describe('a workspace with broken and odd runs', function () {
  this.timeout(120_000);
  let ws: string;

  before(async () => {
    ws = await tempDir();
    await copyFromExample(ws, ['runs/ft-07', 'sweep-c09', 'lightning_logs/version_3', 'data/heldout_val.npz', 'data/test.npz', 'pretrained']);
    // A run of another architecture.
    await fsp.mkdir(path.join(ws, 'wide/run-1'), { recursive: true });
    await fsp.writeFile(path.join(ws, 'wide/run-1/model.onnx'), await narrowedModel(path.join(EXAMPLE, 'sweep-c09/model.onnx'), 32));
    await fsp.writeFile(path.join(ws, 'wide/run-1/metrics.json'), JSON.stringify({ val_accuracy: 0.95, hparams: {} }));
    // A run without metrics.
    await copyFromExample(ws, ['sweep-a02/model.onnx']);
    // A truncated model.
    await fsp.mkdir(path.join(ws, 'truncated'), { recursive: true });
    const full = await fsp.readFile(path.join(EXAMPLE, 'sweep-b05/model.onnx'));
    await fsp.writeFile(path.join(ws, 'truncated/model.onnx'), full.subarray(0, Math.floor(full.length / 2)));
    await fsp.writeFile(path.join(ws, 'truncated/metrics.json'), JSON.stringify({ val_accuracy: 0.9 }));
    // A file that is not ONNX at all.
    await fsp.mkdir(path.join(ws, 'notonnx'), { recursive: true });
    await fsp.writeFile(path.join(ws, 'notonnx/model.onnx'), 'this is a README, not a model\n'.repeat(20));
    await fsp.writeFile(path.join(ws, 'notonnx/metrics.json'), JSON.stringify({ val_accuracy: 0.9 }));
    // NaN in a metrics file, as Python's json.dump writes it.
    await copyFromExample(ws, ['sweep-b05/model.onnx']);
    await fsp.writeFile(path.join(ws, 'sweep-b05/metrics.json'), '{"val_accuracy": NaN, "hparams": {}}');
    await fsp.writeFile(
      path.join(ws, 'modelsoups.json'),
      JSON.stringify({ datasets: { heldout: 'data/heldout_val.npz', test: 'data/test.npz' }, pretrained: 'pretrained/model.onnx' }),
    );
  });
  after(async () => {
    await fsp.rm(ws, { recursive: true, force: true });
  });

  it('reports every run with a status and a reason a user can act on', async () => {
    const scan = await scanWorkspace(ws, loadConfig(ws));
    const byId = new Map(scan.runs.map((r) => [r.id, r]));
    assert.equal(byId.get('runs/ft-07')?.status, 'ok');
    assert.equal(byId.get('wide/run-1')?.status, 'incompatible');
    assert.match(byId.get('wide/run-1')?.reason ?? '', /architecture differs from runs\/ft-07: weight fc1\.weight float\[32,1568\] vs weight fc1\.weight float\[64,1568\]/);
    assert.equal(byId.get('sweep-a02')?.status, 'unscored');
    assert.equal(byId.get('truncated')?.status, 'unreadable');
    assert.match(byId.get('truncated')?.reason ?? '', /past the end of the file|truncated/);
    assert.equal(byId.get('notonnx')?.status, 'unreadable');
    assert.match(byId.get('notonnx')?.reason ?? '', /ONNX/);
    assert.equal(byId.get('sweep-b05')?.status, 'unscored');
    assert.match(byId.get('sweep-b05')?.reason ?? '', /sweep-b05\/metrics\.json.*NaN/);
    assert.ok(!byId.has('pretrained'), 'the pretrained model is not an ingredient');
    assert.equal(scan.pretrained?.id, 'pretrained/model.onnx');
    assert.equal(scan.groups.length, 2);
    assert.deepEqual(scan.groups.find((g) => g.key === scan.primaryGroup)?.runIds.slice(0, 3), ['runs/ft-07', 'lightning_logs/version_3', 'sweep-c09']);
  });

  it('sorts runs by held-out accuracy, ties by id, unscored and unreadable last', async () => {
    const scan = await scanWorkspace(ws, loadConfig(ws));
    const scored = scan.runs.filter((r) => r.status === 'ok' || r.status === 'incompatible').map((r) => r.id);
    assert.deepEqual(scored, ['wide/run-1', 'runs/ft-07', 'lightning_logs/version_3', 'sweep-c09']);
    const tail = scan.runs.slice(4).map((r) => r.status);
    assert.ok(tail.every((s) => s === 'unscored' || s === 'unreadable'));
  });

  it('cooks only from the compatible scored runs and reports the others with reasons', async () => {
    const out = await tempDir();
    const r = await cookSoup({ workspace: ws, config: loadConfig(ws), method: 'greedy', outDir: out });
    assert.deepEqual(r.report.baselines.ensemble.members, ['runs/ft-07', 'lightning_logs/version_3', 'sweep-c09']);
    const skipped = r.report.ingredients.filter((i) => i.status !== 'ok').map((i) => [i.id, i.status]);
    assert.deepEqual(skipped.sort(), [['notonnx', 'unreadable'], ['sweep-a02', 'unscored'], ['sweep-b05', 'unscored'], ['truncated', 'unreadable'], ['wide/run-1', 'incompatible']]);
    assert.deepEqual(r.report.shiftNames, []);
    assert.equal(r.report.soup.metrics.shiftAvg, undefined);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('rejects a dataset whose examples do not fit the model input, naming the file and shapes', async () => {
    const bad = path.join(ws, 'data/flat.npz');
    await fsp.writeFile(bad, encodeNpz({ 'x.npy': encodeNpy({ descr: '<f4', shape: [3, 784], data: f32(new Array(3 * 784).fill(0)) }), 'y.npy': encodeNpy({ descr: '<i8', shape: [3], data: i64([0, 1, 2]) }) }));
    const config = parseConfig({ datasets: { heldout: 'data/flat.npz' } }, 'inline');
    await assert.rejects(cookSoup({ workspace: ws, config, method: 'greedy', outDir: await tempDir() }), (err: unknown) => {
      return err instanceof SoupError && err.code === 'DATASET_MISMATCH' && err.message.includes(bad) && err.message.includes('(3, 784)') && err.message.includes('[batch, 1, 28, 28]');
    });
  });

  it('rejects labels that are not classes of the model, before any soup is cooked', async () => {
    const bad = path.join(ws, 'data/labels.npz');
    await fsp.writeFile(bad, encodeNpz({ 'x.npy': encodeNpy({ descr: '<f4', shape: [2, 1, 28, 28], data: f32(new Array(2 * 784).fill(0)) }), 'y.npy': encodeNpy({ descr: '<i8', shape: [2], data: i64([3, 10]) }) }));
    const config = parseConfig({ datasets: { heldout: 'data/labels.npz' } }, 'inline');
    const phases: string[] = [];
    await assert.rejects(
      cookSoup({ workspace: ws, config, method: 'greedy', outDir: await tempDir() }, { onProgress: (p) => phases.push(p.phase) }),
      (err: unknown) => err instanceof SoupError && err.code === 'DATASET_MISMATCH' && err.message.includes(bad) && /label 10 at index 1/.test(err.message),
    );
    assert.ok(!phases.includes('evaluate'));
  });

  it('rejects x and y of different lengths', async () => {
    const bad = path.join(ws, 'data/short.npz');
    await fsp.writeFile(bad, encodeNpz({ 'x.npy': encodeNpy({ descr: '<f4', shape: [2, 1, 28, 28], data: f32(new Array(2 * 784).fill(0)) }), 'y.npy': encodeNpy({ descr: '<i8', shape: [1], data: i64([3]) }) }));
    const config = parseConfig({ datasets: { heldout: 'data/short.npz' } }, 'inline');
    await assert.rejects(cookSoup({ workspace: ws, config, method: 'greedy', outDir: await tempDir() }), /short\.npz: y has shape \(1\) but x has 2 examples/);
  });

  it('asks for an explicit scale for uint8 images and applies it', async () => {
    const { readNpz } = await import('../../src/engine/formats/npz');
    const real = await readNpz(path.join(ws, 'data/heldout_val.npz'), ['x', 'y']);
    const f = new Float32Array(real.x.data.buffer.slice(real.x.data.byteOffset, real.x.data.byteOffset + real.x.data.byteLength));
    const u8 = Uint8Array.from(f, (v) => Math.round(v * 255));
    const file = path.join(ws, 'data/u8.npz');
    await fsp.writeFile(file, encodeNpz({ 'x.npy': encodeNpy({ descr: '|u1', shape: real.x.shape, data: u8 }), 'y.npy': encodeNpy({ descr: '<i8', shape: real.y.shape, data: real.y.data }) }));
    const out = await tempDir();
    await assert.rejects(
      cookSoup({ workspace: ws, config: parseConfig({ datasets: { heldout: 'data/u8.npz' } }, 'inline'), method: 'greedy', outDir: out }),
      (err: unknown) => err instanceof SoupError && err.code === 'DATASET_MISMATCH' && err.message.includes(file) && /x is uint8: set "scale"/.test(err.message),
    );
    const ok = await cookSoup({ workspace: ws, config: parseConfig({ datasets: { heldout: 'data/u8.npz' }, scale: 1 / 255 }, 'inline'), method: 'greedy', outDir: out });
    const floatRun = await cookSoup({ workspace: ws, config: parseConfig({ datasets: { heldout: 'data/heldout_val.npz' } }, 'inline'), method: 'greedy', outDir: out });
    assert.deepEqual(ok.report.soup.members, floatRun.report.soup.members);
    assert.ok(Math.abs(ok.report.soup.metrics.correct.heldout - floatRun.report.soup.metrics.correct.heldout) <= 2);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('reads a dataset given as two .npy files and scores it like the .npz', async () => {
    const { readNpz } = await import('../../src/engine/formats/npz');
    const real = await readNpz(path.join(ws, 'data/test.npz'), ['x', 'y']);
    await fsp.writeFile(path.join(ws, 'data/test_x.npy'), encodeNpy({ descr: '<f4', shape: real.x.shape, data: real.x.data }));
    await fsp.writeFile(path.join(ws, 'data/test_y.npy'), encodeNpy({ descr: '<i8', shape: real.y.shape, data: real.y.data }));
    const out = await tempDir();
    const datasets = { heldout: 'data/heldout_val.npz', test: 'data/test.npz', shifts: { copy: { x: 'data/test_x.npy', y: 'data/test_y.npy' } } };
    const r = await cookSoup({ workspace: ws, config: parseConfig({ datasets }, 'inline'), method: 'uniform', outDir: out });
    assert.equal(r.report.soup.metrics.correct.copy, r.report.soup.metrics.correct.test);
    assert.equal(r.report.datasets.copy.path, 'data/test_x.npy');
    await assert.rejects(
      cookSoup({ workspace: ws, config: parseConfig({ datasets: { heldout: 'data/test_x.npy' } }, 'inline'), method: 'uniform', outDir: out }),
      /test_x\.npy: a \.npy file holds one array/,
    );
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('explains that greedy soup needs a held-out dataset', async () => {
    const config = parseConfig({}, 'inline');
    await assert.rejects(cookSoup({ workspace: ws, config, method: 'greedy', outDir: await tempDir() }), /needs a held-out dataset: set "datasets.heldout"/);
  });
});

describe('modelsoups.json validation', () => {
  const bad = (raw: unknown, pattern: RegExp) =>
    assert.throws(() => parseConfig(raw, '/ws/modelsoups.json'), (err: unknown) => err instanceof SoupError && err.code === 'CONFIG_INVALID' && err.message.startsWith('/ws/modelsoups.json: ') && pattern.test(err.message));

  it('names unknown keys', () => bad({ datset: {} }, /unknown key "datset"/));
  it('names unknown nested keys', () => bad({ datasets: { holdout: 'x.npz' } }, /unknown key "datasets.holdout"/));
  it('names wrong types', () => bad({ batchSize: 'big' }, /"batchSize" must be a positive integer, got "big"/));
  it('rejects an unknown greedy comparison', () => bad({ greedy: { comparison: '=>' } }, /must be ">=" \(paper\) or ">" \(official code\)/));
  it('rejects a non-object', () => bad([1, 2], /expected a JSON object/));
  it('fills defaults', () => {
    const c = parseConfig({ datasets: { heldout: 'h.npz' } }, 'x');
    assert.equal(c.greedy.comparison, '>=');
    assert.equal(c.output, '.soups');
    assert.equal(c.scale, undefined);
  });
  it('reports invalid JSON with the file', async () => {
    const ws = await tempDir();
    await fsp.writeFile(path.join(ws, 'modelsoups.json'), '{"datasets": ');
    assert.throws(() => loadConfig(ws), (err: unknown) => err instanceof SoupError && err.message.includes(path.join(ws, 'modelsoups.json')) && /not valid JSON/.test(err.message));
    await fsp.rm(ws, { recursive: true });
  });
});

describe('half-precision weights', () => {
  it('are refused with a clear reason instead of being copied from one member', async () => {
    const ws = await tempDir();
    const info = await readOnnxModel(path.join(EXAMPLE, 'sweep-c09/model.onnx'));
    const tensors = info.weights.map((w) => {
      const half = w.name === 'fc2.bias';
      const body = onnxTypes.tensor.encode({ dims: w.dims, data_type: half ? 10 : 1, name: w.name, raw_data: new Uint8Array(w.numel * (half ? 2 : 4)) }).finish();
      return lengthDelimited(5, body);
    });
    const file = path.join(ws, 'model.onnx');
    await fsp.writeFile(file, Buffer.concat([tag(1, 0), varint(info.irVersion), ...info.modelFields, lengthDelimited(7, Buffer.concat([...info.graphFields, ...tensors]))]));
    await assert.rejects(readOnnxModel(file), (err: unknown) => err instanceof SoupError && err.code === 'ONNX_UNSUPPORTED' && err.message.startsWith(file) && /weight "fc2.bias" is float16/.test(err.message));
    await fsp.rm(ws, { recursive: true, force: true });
  });
});

describe('a run folder whose name holds a line break', function () {
  this.timeout(120_000);

  it('keeps the name in the report but prints every progress event as one line', async () => {
    const ws = await tempDir();
    await copyFromExample(ws, ['runs/ft-07', 'data/heldout_val.npz']);
    await fsp.cp(path.join(EXAMPLE, 'sweep-c09'), path.join(ws, 'two\nlines'), { recursive: true });
    const out = await tempDir();
    const messages: string[] = [];
    const r = await cookSoup(
      { workspace: ws, config: parseConfig({ datasets: { heldout: 'data/heldout_val.npz' } }, 'inline'), method: 'greedy', outDir: out },
      { onProgress: (p) => messages.push(p.message) },
    );
    assert.ok(r.report.soup.members.includes('two\nlines') || r.report.steps.some((s) => s.candidate === 'two\nlines'));
    assert.ok(messages.some((m) => m.includes('two⏎lines')));
    assert.ok(messages.every((m) => !/[\r\n]/.test(m)));
    await fsp.rm(ws, { recursive: true, force: true });
    await fsp.rm(out, { recursive: true, force: true });
  });
});
