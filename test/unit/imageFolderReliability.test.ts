import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { parseConfig } from '../../src/engine/config';
import { exampleShape, pixelTable, planTensor, toFloatTensor } from '../../src/engine/datasets/imageTensor';
import { openDatasets } from '../../src/engine/datasets/openDatasets';
import { readPreprocessorConfig } from '../../src/engine/datasets/preprocessing';
import { SoupError } from '../../src/engine/errors';
import { crc32 } from '../../src/engine/formats/crc32';
import { FASHION_IMAGES, tempDir } from './helpers/paths';

const CLASSES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIMS = ['batch', 1, 28, 28];

/** A PNG whose header declares `width` x `height` 8-bit gray pixels, with a few bytes of data. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(width + 1))), chunk('IEND', Buffer.alloc(0))]);
}

describe('image folders: bad files, links and settings', function () {
  this.timeout(60_000);
  let ws: string;
  let outside: string;
  const firstImages = async (cls: string, n: number) => {
    const dir = path.join(FASHION_IMAGES, 'subset/footwear', cls);
    return (await fsp.readdir(dir)).sort().slice(0, n).map((f) => path.join(dir, f));
  };
  /** A grayscale PNG of one value. */
  const grayPng = (width: number, height: number, value: number, file: string) =>
    sharp({ create: { width, height, channels: 3, background: { r: value, g: value, b: value } } }).toColourspace('b-w').png().toFile(file);
  const open = (rel: string, extra: Record<string, unknown> = {}) =>
    openDatasets([['shift', rel]], parseConfig({ classes: CLASSES, ...extra }, 'test'), { workspace: ws, inputName: 'input', inputDims: DIMS, modelClasses: 10, searchDirs: [] });

  before(async () => {
    ws = await tempDir();
    outside = await tempDir();
    const ds = path.join(ws, 'ds');
    for (const cls of ['Sandal', 'Sneaker']) {
      await fsp.mkdir(path.join(ds, cls), { recursive: true });
      for (const f of await firstImages(cls, 3)) await fsp.copyFile(f, path.join(ds, cls, path.basename(f)));
    }
    await fsp.mkdir(path.join(ds, 'Bag')); // an empty class folder
    const good = await fsp.readFile((await firstImages('Sandal', 1))[0]);
    await fsp.writeFile(path.join(ds, 'Sandal', 'truncated.png'), good.subarray(0, Math.floor(good.length / 2)));
    await fsp.writeFile(path.join(ds, 'Sandal', 'corrupt.png'), Buffer.from('this is not a PNG at all, only text with a .png name'));
    await fsp.writeFile(path.join(ds, 'Sandal', 'bomb.png'), pngHeader(30000, 30000));
    await fsp.writeFile(path.join(ds, 'Sandal', 'notes.txt'), 'labelled by hand');
    await fsp.writeFile(path.join(ds, 'README.md'), 'a file beside the class folders');
    // A link to an image outside the workspace is not followed; one to an image inside it is.
    await fsp.writeFile(path.join(outside, 'secret.png'), good);
    await fsp.symlink(path.join(outside, 'secret.png'), path.join(ds, 'Sneaker', 'outside.png'));
    await fsp.mkdir(path.join(ws, 'elsewhere'));
    await fsp.writeFile(path.join(ws, 'elsewhere', 'inside.png'), good);
    await fsp.symlink(path.join(ws, 'elsewhere', 'inside.png'), path.join(ds, 'Sneaker', 'inside.png'));
    await fsp.symlink(outside, path.join(ds, 'Sneaker', 'outside-dir'));
    await fsp.mkdir(path.join(ws, 'unknown', 'Sneakers'), { recursive: true });
    await fsp.copyFile((await firstImages('Sneaker', 1))[0], path.join(ws, 'unknown', 'Sneakers', 'a.png'));
  });
  after(async () => {
    await fsp.rm(ws, { recursive: true, force: true });
    await fsp.rm(outside, { recursive: true, force: true });
  });

  it('skips and counts truncated, corrupt and decompression-bomb images, non-images and links out of the workspace, naming each', async () => {
    const { datasets } = await open('ds');
    const ds = datasets[0];
    try {
      assert.equal(ds.n, 7); // 3 + 3 copied, plus the link that stays inside
      const reasons = Object.fromEntries((ds.skipped?.files ?? []).map((f) => [f.file, f.reason]));
      assert.equal(ds.skipped?.count, 7);
      assert.match(reasons['Sandal/truncated.png'], /^unreadable image/);
      assert.match(reasons['Sandal/corrupt.png'], /^unreadable image/);
      assert.match(reasons['Sandal/bomb.png'], /30000x30000 pixels, over the limit/);
      assert.match(reasons['Sandal/notes.txt'], /not a JPEG, PNG or WebP/);
      assert.match(reasons['README.md'], /not inside a class folder/);
      assert.match(reasons['Sneaker/outside.png'], /outside the workspace; not followed/);
      assert.match(reasons['Sneaker/outside-dir'], /outside the workspace; not followed/);
      assert.deepEqual(ds.emptyClasses, ['Bag']);
      assert.equal(ds.classesCovered, 2);
      assert.deepEqual(ds.subset, [5, 7]);
    } finally {
      await ds.close();
    }
  });

  it('refuses a class folder the label map does not know, naming it and the nearest names', async () => {
    await assert.rejects(open('unknown'), (err: SoupError) => {
      assert.equal(err.code, 'DATASET_MISMATCH');
      assert.equal(err.file, path.join(ws, 'unknown', 'Sneakers'));
      assert.match(err.problem, /class folder "Sneakers" is not a class of the label map \("classes" in modelsoups.json\); nearest: "Sneaker"/);
      return true;
    });
  });

  it('refuses a folder with no readable image and a missing folder, naming them', async () => {
    await assert.rejects(open('missing'), (err: SoupError) => err.code === 'FILE_NOT_FOUND' && err.file === path.join(ws, 'missing'));
    await fsp.mkdir(path.join(ws, 'bad', 'Bag'), { recursive: true });
    await fsp.writeFile(path.join(ws, 'bad', 'Bag', 'x.png'), 'no');
    await assert.rejects(open('bad'), /bad: no readable images \(1 image file\(s\), 1 skipped, e\.g\. Bag\/x\.png: unreadable image/);
  });

  it('refuses images of different sizes after preprocessing, naming the file', async () => {
    const dir = path.join(ws, 'mixed', 'Bag');
    await fsp.mkdir(dir, { recursive: true });
    await grayPng(28, 28, 0, path.join(dir, 'a.png'));
    await grayPng(30, 28, 0, path.join(dir, 'b.png'));
    await assert.rejects(open('mixed'), (err: SoupError) => err.file === path.join(dir, 'b.png') && /is 30x28 with 1 channel\(s\) after preprocessing, but Bag\/a\.png is 28x28/.test(err.problem));
  });

  it('resizes the shortest edge, center-crops, converts to RGB and normalises per channel in NHWC', async () => {
    const dir = path.join(ws, 'rgb', 'Bag');
    await fsp.mkdir(dir, { recursive: true });
    // 40x20 gray image, value 51 everywhere: shortest edge 10 -> 20x10, crop 8x8, gray -> RGB.
    await grayPng(40, 20, 51, path.join(dir, 'a.png'));
    const cfg = parseConfig({ classes: CLASSES, preprocessing: { resize: 10, centerCrop: 8, mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5], channels: 3, layout: 'NHWC' } }, 'test');
    const { datasets } = await openDatasets([['rgb', 'rgb']], cfg, { workspace: ws, inputName: 'pixel_values', inputDims: ['batch', 8, 8, 3], modelClasses: 10, searchDirs: [] });
    try {
      assert.deepEqual(datasets[0].xShape, [1, 8, 8, 3]);
      const x = await datasets[0].readBatch(0, 1);
      assert.deepEqual([...x.subarray(0, 3)], [0.1, 0.2, 0.3].map((m) => Math.fround((51 / 255 - m) / 0.5)));
    } finally {
      await datasets[0].close();
    }
  });

  it('reads the defaults of a preprocessor_config.json (HF names, PIL filter numbers)', async () => {
    const dir = await tempDir();
    try {
      await fsp.writeFile(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ do_resize: true, size: { shortest_edge: 256 }, resample: 3, do_center_crop: true, crop_size: 224, do_rescale: true, rescale_factor: 0.5, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.25, 0.25] }));
      const read = readPreprocessorConfig([path.join(dir, 'nothing-here'), dir]);
      assert.equal(read?.file, path.join(dir, 'preprocessor_config.json'));
      assert.deepEqual(read?.spec, { rescale: 0.5, resize: { shortestEdge: 256 }, resample: 'bicubic', centerCrop: { height: 224, width: 224 }, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
      assert.equal(readPreprocessorConfig([path.join(dir, 'nothing-here')]), undefined);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('reshapes to the graph input when the element counts agree, and says both shapes when not', () => {
    const img = { height: 28, width: 28, channels: 1 };
    assert.deepEqual(exampleShape(['batch', 784], img, 'NCHW', 'x', 'f'), [784]);
    assert.deepEqual(exampleShape(['batch', 1, 28, 28], img, 'NCHW', 'x', 'f'), [1, 28, 28]);
    assert.deepEqual(exampleShape(['batch', 1, 'h', 'w'], img, 'NCHW', 'x', 'f'), [1, 28, 28]);
    assert.throws(() => exampleShape(['batch', 3, 224, 224], img, 'NCHW', 'x', 'f'), /model input "x" wants \[batch, 3, 224, 224\] but the images give \[batch, 1, 28, 28\] \(NCHW\)/);
    assert.deepEqual(planTensor(['batch', 224, 224, 3], {}), { layout: 'NHWC', channels: 3 });
    assert.deepEqual(planTensor(['batch', 784], {}), { layout: 'NCHW', channels: undefined });
  });

  it('lays out NCHW channel planes and divides 8-bit pixels exactly by 255 by default', () => {
    const lut = pixelTable(3, {}, 'f');
    // Two pixels, RGB interleaved: (1,2,3), (4,5,6) -> planes R=(1,4), G=(2,5), B=(3,6).
    const x = toFloatTensor(Uint8Array.from([1, 2, 3, 4, 5, 6]), 1, 1, 2, 3, 'NCHW', lut);
    assert.deepEqual([...x], [1, 4, 2, 5, 3, 6].map((k) => Math.fround(k / 255)));
    assert.throws(() => pixelTable(3, { mean: [0.5, 0.5] }, 'f'), /"preprocessing.mean" has 2 values but the images have 3 channel/);
  });

  it('parses folder entries, classes and preprocessing in modelsoups.json, with errors naming the key', () => {
    const cfg = parseConfig({ classes: 'classes.json', preprocessing: { resize: { height: 28, width: 28 }, resample: 'nearest' }, datasets: { shifts: { r: { path: 'images/r', subset: false, preprocessing: { centerCrop: 24 } } } } }, 'm.json');
    assert.deepEqual(cfg.datasets.shifts.r, { path: 'images/r', subset: false, preprocessing: { centerCrop: { height: 24, width: 24 } } });
    assert.deepEqual(cfg.preprocessing, { resize: { height: 28, width: 28 }, resample: 'nearest' });
    const bad = (raw: unknown, msg: RegExp) => assert.throws(() => parseConfig(raw, 'm.json'), (e: SoupError) => e.code === 'CONFIG_INVALID' && msg.test(e.problem));
    bad({ datasets: { test: { path: 'x', subst: true } } }, /unknown key "datasets.test.subst"/);
    bad({ datasets: { test: { path: 'x', subset: 'yes' } } }, /"datasets.test.subset" must be true or false/);
    bad({ datasets: { heldout: { path: 'x', preprocessing: { resample: 'cubic' } } } }, /"datasets.heldout.preprocessing.resample" must be one of nearest, bilinear, bicubic, lanczos/);
    bad({ preprocessing: { resize: -1 } }, /"preprocessing.resize" must be a positive integer/);
    bad({ preprocessing: { layout: 'CHW' } }, /"preprocessing.layout" must be "NCHW" or "NHWC"/);
    bad({ classes: ['a', 'a'] }, /"classes" must be a list of distinct class names/);
  });
});
