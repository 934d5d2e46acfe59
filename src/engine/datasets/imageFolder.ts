import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DatasetOptions, DatasetSource } from '../config';
import { SoupError, throwIfAborted } from '../errors';
import type { DatasetContext, DatasetReader, EvalDataset, SkippedFile } from './evalDataset';
import type { DecodedImage } from './imageDecode';
import { decodeImage } from './imageDecode';
import { exampleShape, pixelTable, planTensor, toFloatTensor } from './imageTensor';
import type { FolderListing } from './folderListing';
import { listImageFolder } from './folderListing';
import type { LabelMap } from './labelMap';
import { classIndexOf } from './labelMap';
import { mergePreprocessing } from './preprocessing';

/** At most this many skipped files are named in a report (all are counted). */
export const MAX_SKIPPED_LISTED = 20;

// Images decoded at once within a batch: enough to keep libvips' threads busy.
const DECODE_CONCURRENCY = Math.max(4, 2 * os.availableParallelism());

/**
 * Image folders, `<root>/<class>/<image>` (torchvision ImageFolder). The images are decoded
 * once, a batch at a time, with sharp; their preprocessed 8-bit pixels go to an unlinked
 * temporary file, and each evaluation pass reads them back a batch at a time, so memory holds
 * one batch whatever the size of the set. Unreadable images (truncated, corrupt, over the pixel
 * limit) and non-image files are skipped and counted; an image whose size after preprocessing
 * differs from the others, or an unknown class folder, refuses the set naming the file.
 */
export const imageFolderReader: DatasetReader = {
  kind: 'folder',
  async open(key: string, source: DatasetSource, options: Omit<DatasetOptions, 'path'>, ctx: DatasetContext): Promise<EvalDataset> {
    if (typeof source !== 'string') throw new SoupError('CONFIG_INVALID', 'an image folder is given as a path');
    const root = path.resolve(ctx.workspace, source);
    const allowed = [await fsp.realpath(ctx.workspace), await fsp.realpath(root)];
    const listing = await listImageFolder(root, allowed, ctx.signal);
    if (!ctx.labelMap) throw new SoupError('DATASET_MISMATCH', 'no label map for the class folders', root);
    return decodeFolder(key, source, root, listing, ctx.labelMap, options, ctx);
  },
};

async function decodeFolder(key: string, rel: string, root: string, listing: FolderListing, labelMap: LabelMap, options: Omit<DatasetOptions, 'path'>, ctx: DatasetContext): Promise<EvalDataset> {
  const spec = mergePreprocessing(ctx.preprocessing, options.preprocessing);
  const plan = planTensor(ctx.inputDims, spec);
  const steps = { resize: spec.resize, resample: spec.resample ?? 'bilinear', centerCrop: spec.centerCrop, channels: plan.channels };
  const work: { file: string; label: number }[] = [];
  for (const c of listing.classes) {
    const label = classIndexOf(labelMap, c.name, c.dir);
    for (const file of c.files) work.push({ file, label });
  }
  const skipped: SkippedFile[] = [...listing.skipped];
  const relOf = (f: string) => path.relative(root, f).split(path.sep).join('/');

  // The cache is unlinked as soon as it is open (POSIX): nothing is left behind, even on SIGKILL.
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'model-soups-images-'));
  const cacheFile = path.join(tmpDir, 'pixels.u8');
  const fh = await fsp.open(cacheFile, 'w+');
  let removed = await fsp.rm(tmpDir, { recursive: true, force: true }).then(() => true, () => false);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
    if (!removed) removed = await fsp.rm(tmpDir, { recursive: true, force: true }).then(() => true, () => false);
  };
  try {
    const labels = new Int32Array(work.length);
    let n = 0;
    let shape: { width: number; height: number; channels: number; file: string } | undefined;
    let perImage = 0;
    for (let start = 0; start < work.length; start += ctx.batchSize) {
      throwIfAborted(ctx.signal);
      const chunk = work.slice(start, start + ctx.batchSize);
      const decoded = await mapLimit(chunk, DECODE_CONCURRENCY, (w) => decodeImage(w.file, steps).catch((err: unknown) => err as Error));
      let bytes: Buffer | undefined;
      let inChunk = 0;
      decoded.forEach((img: DecodedImage | Error, i) => {
        const file = chunk[i].file;
        if (img instanceof Error) {
          skipped.push({ file: relOf(file), reason: `unreadable image (${img.message.split('\n')[0]})` });
          return;
        }
        if (!shape) {
          shape = { width: img.width, height: img.height, channels: img.channels, file };
          perImage = img.data.length;
        } else if (img.width !== shape.width || img.height !== shape.height || img.channels !== shape.channels) {
          throw new SoupError(
            'DATASET_MISMATCH',
            `image is ${img.width}x${img.height} with ${img.channels} channel(s) after preprocessing, but ${relOf(shape.file)} is ${shape.width}x${shape.height} with ${shape.channels}; set "preprocessing" (resize, centerCrop, channels) so that every image ends the same size`,
            file,
          );
        }
        bytes ??= Buffer.alloc(chunk.length * perImage);
        img.data.copy(bytes, inChunk * perImage);
        labels[n + inChunk] = chunk[i].label;
        inChunk++;
      });
      if (bytes && inChunk > 0) await fh.write(bytes, 0, inChunk * perImage, n * perImage);
      n += inChunk;
      ctx.onProgress?.(Math.min(start + chunk.length, work.length), work.length);
    }
    if (!shape || n === 0) {
      throw new SoupError('DATASET_MISMATCH', `no readable images (${work.length} image file(s), ${skipped.length} skipped${skipped[0] ? `, e.g. ${skipped[0].file}: ${skipped[0].reason}` : ''})`, root);
    }
    const img = shape;
    const xShape = [n, ...exampleShape(ctx.inputDims, img, plan.layout, ctx.inputName, root)];
    const lut = pixelTable(img.channels, spec, root);
    const y = labels.slice(0, n);
    const present = new Set(y);
    const emptyClasses = listing.classes.filter((c) => !present.has(classIndexOf(labelMap, c.name, c.dir))).map((c) => c.name);
    const ds: EvalDataset = {
      key,
      kind: 'folder',
      path: rel,
      file: root,
      xShape,
      y,
      n,
      classesCovered: present.size,
      skipped: { count: skipped.length, files: skipped.slice(0, MAX_SKIPPED_LISTED) },
      emptyClasses,
      async readBatch(start: number, count: number): Promise<Float32Array> {
        const buf = Buffer.alloc(count * perImage);
        const { bytesRead } = await fh.read(buf, 0, buf.length, start * perImage);
        if (bytesRead !== buf.length) throw new SoupError('READ_FAILED', `image cache read ${bytesRead} of ${buf.length} bytes`, root);
        return toFloatTensor(buf, count, img.height, img.width, img.channels, plan.layout, lut);
      },
      close,
    };
    return ds;
  } catch (err) {
    await close();
    throw err;
  }
}

/** `fn` over `items` with at most `limit` calls in flight; results in order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
