import { echoValue } from '../untrustedJson';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../errors';

/** Resize kernels, as torchvision / PIL name them. */
export type Resample = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';
export const RESAMPLES: readonly Resample[] = ['nearest', 'bilinear', 'bicubic', 'lanczos'];

/** Tensor layout of the graph input. */
export type Layout = 'NCHW' | 'NHWC';

export interface Size {
  height: number;
  width: number;
}

/**
 * How the images of a folder dataset become the model's input tensor, in the order applied:
 * resize, center crop, channel conversion, `rescale`, then `(x - mean) / std` per channel.
 * Every field is optional; unset fields come from the next source (dataset entry, the config's
 * top-level `preprocessing`, a `preprocessor_config.json`, then the defaults).
 */
export interface PreprocessingSpec {
  /** `{shortestEdge}` keeps the aspect ratio (torchvision `Resize(int)`); `{height, width}` does not. */
  resize?: { shortestEdge: number } | Size;
  /** Resize kernel (default bilinear). */
  resample?: Resample;
  centerCrop?: Size;
  /** Pixel multiplier (default 1/255). */
  rescale?: number;
  mean?: number[];
  std?: number[];
  /** 1 = grayscale, 3 = RGB (default: the graph's channel dimension, else the image's mode). */
  channels?: 1 | 3;
  /** Default: inferred from the graph input (channel axis of size 1 or 3), else NCHW. */
  layout?: Layout;
}

/** Default pixel multiplier: 8-bit pixels to [0, 1], as torchvision `ToTensor` and HF `do_rescale`. */
export const DEFAULT_RESCALE = 1 / 255;

/** The file name a Hugging Face image processor is saved as. */
export const PREPROCESSOR_CONFIG = 'preprocessor_config.json';

/** Merges specs field by field; later ones win. */
export function mergePreprocessing(...specs: (PreprocessingSpec | undefined)[]): PreprocessingSpec {
  const out: PreprocessingSpec = {};
  for (const s of specs) {
    if (!s) continue;
    for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * Parses the `preprocessing` object of `modelsoups.json` (top level or one dataset entry);
 * `key` names it in errors.
 */
export function parsePreprocessing(v: unknown, key: string, fail: (problem: string) => never): PreprocessingSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`"${key}" must be an object (resize, resample, centerCrop, rescale, mean, std, channels, layout)`);
  const raw = v as Record<string, unknown>;
  const known = ['resize', 'resample', 'centerCrop', 'rescale', 'mean', 'std', 'channels', 'layout'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(`unknown key "${key}.${k}" (known: ${known.join(', ')})`);
  const spec: PreprocessingSpec = {};
  const posInt = (x: unknown, k: string): number => (typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : fail(`"${key}.${k}" must be a positive integer, got ${echoValue(x)}`));
  const size = (x: unknown, k: string): Size => {
    if (typeof x === 'number') return { height: posInt(x, k), width: x };
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      if (Object.keys(o).every((q) => q === 'height' || q === 'width')) return { height: posInt(o.height, `${k}.height`), width: posInt(o.width, `${k}.width`) };
    }
    return fail(`"${key}.${k}" must be a number of pixels or {"height": H, "width": W}, got ${echoValue(x)}`);
  };
  if (raw.resize !== undefined) {
    const r = raw.resize;
    if (typeof r === 'number') spec.resize = { shortestEdge: posInt(r, 'resize') };
    else if (typeof r === 'object' && r !== null && 'shortestEdge' in r && Object.keys(r).length === 1) spec.resize = { shortestEdge: posInt((r as { shortestEdge: unknown }).shortestEdge, 'resize.shortestEdge') };
    else spec.resize = size(r, 'resize');
  }
  if (raw.resample !== undefined) {
    if (!RESAMPLES.includes(raw.resample as Resample)) fail(`"${key}.resample" must be one of ${RESAMPLES.join(', ')}, got ${echoValue(raw.resample)}`);
    spec.resample = raw.resample as Resample;
  }
  if (raw.centerCrop !== undefined) spec.centerCrop = size(raw.centerCrop, 'centerCrop');
  if (raw.rescale !== undefined) {
    if (typeof raw.rescale !== 'number' || !Number.isFinite(raw.rescale) || raw.rescale <= 0) fail(`"${key}.rescale" must be a positive number (1/255 = 0.00392156862745098), got ${echoValue(raw.rescale)}`);
    spec.rescale = raw.rescale as number;
  }
  for (const k of ['mean', 'std'] as const) {
    const x = raw[k];
    if (x === undefined) continue;
    const arr = typeof x === 'number' ? [x] : x;
    if (!Array.isArray(arr) || arr.length === 0 || arr.some((n) => typeof n !== 'number' || !Number.isFinite(n)) || (k === 'std' && arr.some((n) => n === 0))) {
      fail(`"${key}.${k}" must be a number or a list of numbers per channel${k === 'std' ? ' (non-zero)' : ''}, got ${echoValue(x)}`);
    }
    spec[k] = arr as number[];
  }
  if (raw.channels !== undefined) {
    if (raw.channels !== 1 && raw.channels !== 3) fail(`"${key}.channels" must be 1 (grayscale) or 3 (RGB), got ${echoValue(raw.channels)}`);
    spec.channels = raw.channels as 1 | 3;
  }
  if (raw.layout !== undefined) {
    if (raw.layout !== 'NCHW' && raw.layout !== 'NHWC') fail(`"${key}.layout" must be "NCHW" or "NHWC", got ${echoValue(raw.layout)}`);
    spec.layout = raw.layout as Layout;
  }
  return spec;
}

/**
 * Reads the defaults of a Hugging Face `preprocessor_config.json` (`do_resize`, `size`,
 * `resample`, `do_center_crop`, `crop_size`, `do_rescale`, `rescale_factor`, `do_normalize`,
 * `image_mean`, `image_std`) from the first of `dirs` that holds one. Undefined when none does.
 */
export function readPreprocessorConfig(dirs: string[]): { spec: PreprocessingSpec; file: string } | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, PREPROCESSOR_CONFIG);
    if (!existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new SoupError('CONFIG_INVALID', `not valid JSON (${(err as Error).message})`, file);
    }
    return { spec: fromHuggingFace(raw, file), file };
  }
  return undefined;
}

// PIL's resampling filter numbers, as image processors store them.
const PIL_RESAMPLE: Record<number, Resample> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic' };

function fromHuggingFace(raw: unknown, file: string): PreprocessingSpec {
  const fail = (problem: string): never => {
    throw new SoupError('CONFIG_INVALID', problem, file);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('expected a JSON object');
  const r = raw as Record<string, unknown>;
  const spec: PreprocessingSpec = { rescale: 1 };
  const hfSize = (v: unknown, key: string): { shortestEdge: number } | Size => {
    if (typeof v === 'number' && v > 0) return { shortestEdge: v };
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (typeof o.shortest_edge === 'number') return { shortestEdge: o.shortest_edge };
      if (typeof o.height === 'number' && typeof o.width === 'number') return { height: o.height, width: o.width };
    }
    return fail(`"${key}" must be a number, {"shortest_edge": n} or {"height": h, "width": w}, got ${echoValue(v)}`);
  };
  if (r.do_resize !== false && r.size !== undefined) spec.resize = hfSize(r.size, 'size');
  if (r.resample !== undefined) spec.resample = PIL_RESAMPLE[r.resample as number] ?? fail(`"resample" ${echoValue(r.resample)} is not a supported PIL filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic)`);
  if (r.do_center_crop === true && r.crop_size !== undefined) {
    const c = hfSize(r.crop_size, 'crop_size');
    spec.centerCrop = 'shortestEdge' in c ? { height: c.shortestEdge, width: c.shortestEdge } : c;
  }
  if (r.do_rescale !== false) spec.rescale = typeof r.rescale_factor === 'number' ? r.rescale_factor : DEFAULT_RESCALE;
  if (r.do_normalize === true) {
    const list = (v: unknown, key: string): number[] => (Array.isArray(v) && v.every((n) => typeof n === 'number') ? (v as number[]) : typeof v === 'number' ? [v] : fail(`"${key}" must be a list of numbers`));
    spec.mean = list(r.image_mean, 'image_mean');
    spec.std = list(r.image_std, 'image_std');
  }
  return spec;
}
