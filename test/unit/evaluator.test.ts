import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { loadWeights } from '../../src/engine/soups/weights';
import { expected } from './helpers/expected';
import { EXAMPLE } from './helpers/paths';

describe('Evaluator (one session per architecture, weights as inputs)', function () {
  this.timeout(120_000);

  it('scores two different runs through one session exactly as PyTorch did', async () => {
    const first = await readOnnxModel(path.join(EXAMPLE, 'runs/ft-07/model.onnx'));
    const ev = await Evaluator.create(first, { batchSize: 333 });
    try {
      const ds = await openArrayFiles('heldout', 'data/heldout_val.npz', EXAMPLE);
      ev.checkDataset(ds);
      for (const id of ['runs/ft-07', 'sweep-b05']) {
        const w = await loadWeights(await readOnnxModel(path.join(EXAMPLE, id, 'model.onnx')));
        const r = await ev.run(w, ds, { keepLogits: true });
        assert.equal(r.correct, expected.ingredients.find((i) => i.id === id)?.correct.heldout, id);
        assert.equal(r.logits?.length, 2000 * 10);
      }
    } finally {
      await ev.release();
    }
  });

  it('falls back to the CPU with a clear warning when CUDA is asked for but not installed', async function () {
    const model = await readOnnxModel(path.join(EXAMPLE, 'sweep-c09/model.onnx'));
    const warnings: string[] = [];
    const ev = await Evaluator.create(model, { batchSize: 500, device: 'cuda', onWarning: (w) => warnings.push(w) });
    try {
      if (ev.device === 'cuda') this.skip(); // a machine with onnxruntime's CUDA binaries and a GPU
      assert.equal(ev.device, 'cpu');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /CUDA is not available .*evaluating on the CPU/);
      const ds = await openArrayFiles('test', 'data/test.npz', EXAMPLE);
      const r = await ev.run(await loadWeights(model), ds);
      assert.equal(r.correct, expected.ingredients.find((i) => i.id === 'sweep-c09')?.correct.test);
    } finally {
      await ev.release();
    }
  });
});
