import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { DatasetEntry } from '../../src/engine/config';
import { datasetLabel, loadConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import { openArrayFiles } from '../../src/engine/datasets/arrayFiles';
import { openDatasets, splitEntry } from '../../src/engine/datasets/openDatasets';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';

/**
 * The image-folder scenario (issue 10): every dataset of the bundled example written as 8-bit
 * PNG folders (`<set>/<class>/<n>.png`, the 2000-image sets as files), then (1) the decoding
 * alone, in images per second, and (2) the same greedy cook on the folders and on the `.npz`
 * files, wall time and counts. Runs in the scenario's own process, folders in a temp folder.
 */
export async function imageFolders(args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const workspace = args.workspace as string;
  const config = loadConfig(workspace);
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-bench-images-'));
  try {
    // The class names of the example's Hugging Face runs, as folder names.
    const id2label = (JSON.parse(readFileSync(path.join(workspace, 'runs/ft-07/config.json'), 'utf8')) as { id2label: Record<string, string> }).id2label;
    const names = Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k].replace(/\//g, '_'));
    const roles: [string, DatasetEntry][] = [];
    if (config.datasets.heldout) roles.push(['heldout', config.datasets.heldout]);
    if (config.datasets.test) roles.push(['test', config.datasets.test]);
    roles.push(...Object.entries(config.datasets.shifts));
    let t = performance.now();
    let images = 0;
    const folders: Record<string, string> = {};
    for (const [key, entry] of roles) {
      const ds = await openArrayFiles(key, splitEntry(entry).source, workspace, config.scale);
      const per = ds.xShape.slice(1).reduce((a, b) => a * b, 1);
      for (const n of names) await fsp.mkdir(path.join(tmp, key, n), { recursive: true });
      for (let i = 0; i < ds.n; i++) {
        const px = Buffer.from(Array.from(ds.x.subarray(i * per, (i + 1) * per), (v) => Math.round(v * 255)));
        await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(path.join(tmp, key, names[ds.y[i]], `${String(i).padStart(5, '0')}.png`));
      }
      folders[key] = path.join(tmp, key);
      images += ds.n;
    }
    const writeMs = performance.now() - t;

    // (1) Decoding alone: every folder through the reader, as a cook opens them.
    const template = await readOnnxModel(path.join(workspace, 'runs/ft-07/model.onnx'));
    const ev = await Evaluator.create(template, { batchSize: config.batchSize, threads: config.threads });
    const folderConfig = { ...config, datasets: { heldout: folders.heldout, test: folders.test, shifts: Object.fromEntries(Object.keys(config.datasets.shifts).map((k) => [k, folders[k]])) } };
    t = performance.now();
    const opened = await openDatasets(Object.entries(folders), folderConfig, { workspace, inputName: ev.inputName, inputDims: ev.inputDims, modelClasses: ev.classes, searchDirs: [path.join(workspace, 'runs/ft-07')] });
    const decodeMs = performance.now() - t;
    await Promise.all(opened.datasets.map((d) => d.close()));
    await ev.release();

    // (2) The same cook on folders and on .npz files.
    const cook = async (cfg: typeof config) => {
      const out = await fsp.mkdtemp(path.join(tmp, 'out-'));
      const start = performance.now();
      // Analyses off: what differs between the two cooks is how the datasets load.
      const { report } = await cookSoup({ workspace, config: { ...cfg, analyses: { run: [] } }, method: 'greedy', outDir: out, name: 'bench' });
      return { wallMs: performance.now() - start, timingsMs: report.timingsMs, correct: report.soup.metrics.correct, members: report.soup.members };
    };
    const npz = await cook(config);
    const folder = await cook(folderConfig);
    return {
      images,
      sets: roles.map(([k, e]) => `${k}: ${datasetLabel(e)}`),
      writeMs,
      decodeMs,
      imagesPerSecond: images / (decodeMs / 1000),
      npz,
      folder,
      cookRatio: folder.wallMs / npz.wallMs,
      sameCounts: JSON.stringify(npz.correct) === JSON.stringify(folder.correct),
    };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
