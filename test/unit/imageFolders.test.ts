import * as assert from 'node:assert/strict';
import { readFileSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { DatasetEntry, SoupConfig } from '../../src/engine/config';
import { defaultConfig, parseConfig } from '../../src/engine/config';
import type { CookResult } from '../../src/engine/cookSoup';
import { cookSoup } from '../../src/engine/cookSoup';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import type { EvalDataset } from '../../src/engine/datasets/evalDataset';
import { openDatasets } from '../../src/engine/datasets/openDatasets';
import { SoupError } from '../../src/engine/errors';
import { argmax, Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { loadWeights } from '../../src/engine/soups/weights';
import { expected } from './helpers/expected';
import { EXAMPLE, FASHION_IMAGES, REFERENCE_SOUPS, tempDir } from './helpers/paths';

interface ExpectedImages {
  classes: string[];
  subset_footwear_class_indices: number[];
  counts: Record<'greedy_soup' | 'pretrained', Record<string, { correct: number; n: number }>>;
}
const images = JSON.parse(readFileSync(path.join(FASHION_IMAGES, 'expected-images.json'), 'utf8')) as ExpectedImages;
/** Workspace-relative (to the example) path of a fixture set. */
const set = (name: string) => path.relative(EXAMPLE, path.join(FASHION_IMAGES, name)).split(path.sep).join('/');
const RESIZE_28 = { resize: { height: 28, width: 28 } };
// Decoders and resize kernels differ from PIL's: JPEG and resized sets may differ by 1.5 points.
const TOLERANCE = 0.015;

describe('image folders as evaluation datasets (fashion-images fixture)', function () {
  this.timeout(300_000);

  describe('the reference soup and the pretrained model, set by set', () => {
    let ev: Evaluator;
    const models: Record<string, Float32Array[]> = {};
    const opened: EvalDataset[] = [];
    const open = async (entries: [string, DatasetEntry][], cfg: SoupConfig = defaultConfig()) => {
      const { datasets } = await openDatasets(entries, cfg, { workspace: EXAMPLE, inputName: ev.inputName, inputDims: ev.inputDims, modelClasses: ev.classes, searchDirs: [path.join(EXAMPLE, 'runs/ft-07')] });
      opened.push(...datasets);
      for (const ds of datasets) ev.checkDataset(ds);
      return datasets;
    };
    before(async () => {
      const soup = await readOnnxModel(path.join(REFERENCE_SOUPS, 'greedy_soup.onnx'));
      ev = await Evaluator.create(soup, { batchSize: 500 });
      models.greedy_soup = (await loadWeights(soup)) as Float32Array[];
      models.pretrained = (await loadWeights(await readOnnxModel(path.join(EXAMPLE, 'pretrained/model.onnx')))) as Float32Array[];
    });
    after(async () => {
      await Promise.all(opened.map((d) => d.close()));
      await ev.release();
    });

    it('decodes the PNG held-out folder to exactly the floats of the .npz, labels in the model order', async () => {
      const [folder] = await open([['heldout', set('heldout')]]);
      const arrays = await openArrayFiles('heldout', 'data/heldout_val.npz', EXAMPLE);
      assert.equal(folder.kind, 'folder');
      assert.deepEqual(folder.xShape, arrays.xShape);
      // Same images, other order (class by class): compare as multisets of (label, pixels).
      const key = (x: Float32Array, y: number) => `${y}:${Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64')}`;
      const per = 28 * 28;
      const all = await folder.readBatch(0, folder.n);
      const fromFolder = Array.from({ length: folder.n }, (_, i) => key(all.subarray(i * per, (i + 1) * per), folder.y[i])).sort();
      const npzAll = await arrays.readBatch(0, arrays.n);
      const fromNpz = Array.from({ length: arrays.n }, (_, i) => key(npzAll.subarray(i * per, (i + 1) * per), arrays.y[i])).sort();
      assert.deepEqual(fromFolder, fromNpz);
      assert.equal(folder.subset, undefined);
      assert.equal(folder.classesCovered, 10);
    });

    it('gives the PyTorch counts exactly on the PNG held-out set, for the soup and the pretrained model', async () => {
      const [ds] = await open([['heldout', set('heldout')]]);
      for (const who of ['greedy_soup', 'pretrained'] as const) {
        assert.equal((await ev.run(models[who], ds)).correct, images.counts[who].heldout.correct, who);
      }
      assert.equal(images.counts.greedy_soup.heldout.correct, expected.greedy_soup.correct.heldout);
    });

    it('scores the 3-class footwear set among its classes only, with the exact PyTorch count', async () => {
      const [ds] = await open([['footwear', set('subset/footwear')]]);
      assert.deepEqual(ds.subset, images.subset_footwear_class_indices);
      assert.equal(ds.classesCovered, 3);
      for (const who of ['greedy_soup', 'pretrained'] as const) {
        const r = await ev.run(models[who], ds, { keepLogits: true });
        assert.equal(r.correct, images.counts[who]['subset/footwear'].correct, who);
        // All ten classes would count fewer: the subset rule is what makes the numbers right.
        const logits = r.logits as Float32Array;
        let all10 = 0;
        for (let i = 0; i < ds.n; i++) if (argmax(logits, i * 10, 10) === ds.y[i]) all10++;
        assert.ok(all10 < r.correct, `${who}: ${all10} over all classes vs ${r.correct} among 3`);
      }
    });

    it('scores the footwear set over all classes when its entry says "subset": false', async () => {
      const [ds] = await open([['footwear', { path: set('subset/footwear'), subset: false }]]);
      assert.equal(ds.subset, undefined);
      const r = await ev.run(models.greedy_soup, ds, { keepLogits: true });
      let all10 = 0;
      for (let i = 0; i < ds.n; i++) if (argmax(r.logits as Float32Array, i * 10, 10) === ds.y[i]) all10++;
      assert.equal(r.correct, all10);
    });

    it('comes within 1.5 points of PIL on the JPEG set and on the upscaled set resized to 28x28', async () => {
      const [jpeg, up] = await open([
        ['jpeg', set('jpeg/test-jpeg')],
        ['up', { path: set('upscaled/test-2x'), preprocessing: RESIZE_28 }],
      ]);
      for (const who of ['greedy_soup', 'pretrained'] as const) {
        for (const [ds, name] of [[jpeg, 'jpeg/test-jpeg'], [up, 'upscaled/test-2x']] as const) {
          const got = (await ev.run(models[who], ds)).correct;
          const want = images.counts[who][name];
          assert.equal(ds.n, want.n);
          assert.ok(Math.abs(got - want.correct) / want.n <= TOLERANCE, `${who} on ${name}: ${got} vs PyTorch ${want.correct}`);
        }
      }
    });

    it('refuses 56x56 images for a 28x28 input without a resize, naming both shapes', async () => {
      await assert.rejects(open([['up', set('upscaled/test-2x')]]), (err: SoupError) => {
        assert.equal(err.code, 'DATASET_MISMATCH');
        assert.match(err.message, /wants \[batch, 1, 28, 28\] but the images give \[batch, 1, 56, 56\]/);
        assert.match(err.message, /upscaled\/test-2x/);
        return true;
      });
    });

    it('takes the class order from "classes" (a .txt file) as well as from a config.json id2label', async () => {
      const dir = await tempDir();
      try {
        const txt = path.join(dir, 'classes.txt');
        const names = JSON.parse(readFileSync(path.join(FASHION_IMAGES, 'classes.json'), 'utf8')) as string[];
        await fsp.writeFile(txt, names.join('\n') + '\n');
        const cfg = parseConfig({ classes: txt }, 'test');
        const { datasets, labelMap } = await openDatasets([['footwear', set('subset/footwear')]], cfg, { workspace: EXAMPLE, inputName: ev.inputName, inputDims: ev.inputDims, modelClasses: 10, searchDirs: [] });
        opened.push(...datasets);
        assert.equal(labelMap?.source, txt);
        assert.deepEqual(datasets[0].subset, [5, 7, 9]);
        assert.equal((await ev.run(models.greedy_soup, datasets[0])).correct, images.counts.greedy_soup['subset/footwear'].correct);
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    });

    it('falls back to sorted folder names (torchvision) without a label map, which is not this model\'s order', async () => {
      const { datasets, labelMap } = await openDatasets([['heldout', set('heldout')]], defaultConfig(), { workspace: EXAMPLE, inputName: ev.inputName, inputDims: ev.inputDims, modelClasses: 10, searchDirs: [] });
      opened.push(...datasets);
      assert.equal(labelMap?.source, 'folder names');
      assert.equal(labelMap?.names[0], 'Ankle boot');
      assert.ok((await ev.run(models.greedy_soup, datasets[0])).correct < images.counts.greedy_soup.heldout.correct);
    });
  });

  describe('a greedy cook with folders among the datasets', () => {
    let out: string;
    let cooked: CookResult;
    before(async () => {
      out = await tempDir();
      const config = parseConfig(
        {
          datasets: {
            heldout: set('heldout'),
            test: 'data/test.npz',
            shifts: { jpeg: set('jpeg/test-jpeg'), upscaled: { path: set('upscaled/test-2x'), preprocessing: RESIZE_28 }, footwear: set('subset/footwear') },
          },
          pretrained: 'pretrained/model.onnx',
        },
        'test',
      );
      cooked = await cookSoup({ workspace: EXAMPLE, config, method: 'greedy', outDir: out, name: 'folders' });
    });
    after(async () => {
      await fsp.rm(out, { recursive: true, force: true });
    });

    it('picks the PyTorch greedy members and reproduces the held-out counts of every ingredient, the ensemble and the uniform soup', () => {
      const r = cooked.report;
      assert.deepEqual(r.soup.members, expected.greedy_soup.members);
      assert.deepEqual(r.steps.map((s) => s.correct), expected.greedy_soup.steps.map((s) => s.candidate_soup_heldout_correct));
      for (const ing of expected.ingredients) {
        const got = r.ingredients.find((i) => i.id === ing.id)?.metrics?.correct;
        assert.equal(got?.heldout, ing.correct.heldout, ing.id);
        assert.equal(got?.test, ing.correct.test, ing.id);
      }
      assert.equal(r.baselines.ensemble.metrics.correct.heldout, expected.ensemble.logits_mean.correct.heldout);
      assert.equal(r.baselines.uniform.metrics.correct.heldout, expected.uniform_soup.correct.heldout);
    });

    it('gives the soup the expected-images counts: exact on PNG and the subset, within 1.5 points on JPEG and upscaled', () => {
      const c = cooked.report.soup.metrics.correct;
      const want = images.counts.greedy_soup;
      assert.equal(c.heldout, want.heldout.correct);
      assert.equal(c.test, want.test.correct);
      assert.equal(c.footwear, want['subset/footwear'].correct);
      assert.ok(Math.abs(c.jpeg - want['jpeg/test-jpeg'].correct) <= TOLERANCE * 2000, `jpeg ${c.jpeg}`);
      assert.ok(Math.abs(c.upscaled - want['upscaled/test-2x'].correct) <= TOLERANCE * 2000, `upscaled ${c.upscaled}`);
      assert.equal(cooked.report.soup.metrics.shifts.footwear, want['subset/footwear'].correct / 614);
    });

    it('says in the report what kind each set is, the classes it covers, the subset rule and the label map', () => {
      const d = cooked.report.datasets;
      assert.deepEqual(d.test, { path: 'data/test.npz', n: 2000, kind: 'arrays', classesCovered: 10, classes: 10 });
      assert.equal(d.heldout.kind, 'folder');
      assert.equal(d.heldout.labels, 'runs/ft-07/config.json');
      assert.deepEqual(d.heldout.skipped, { count: 0, files: [] });
      assert.equal(d.heldout.subset, undefined);
      assert.deepEqual([d.footwear.kind, d.footwear.n, d.footwear.classesCovered, d.footwear.classes, d.footwear.subset], ['folder', 614, 3, 10, [5, 7, 9]]);
      assert.deepEqual(cooked.report.warnings, []);
    });
  });
});
