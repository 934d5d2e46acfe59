import { SoupError } from '../errors';
import type { Layout, PreprocessingSpec } from './preprocessing';
import { DEFAULT_RESCALE } from './preprocessing';

/** How decoded HWC bytes become the model's float input. */
export interface TensorPlan {
  layout: Layout;
  /** Target channels; undefined = each image's own mode (checked to agree across the set). */
  channels?: 1 | 3;
}

/**
 * The layout and channel count the graph input implies: a rank-4 input with a channel axis of
 * 1 or 3 at position 1 is NCHW, at position 3 NHWC. Explicit settings win.
 */
export function planTensor(inputDims: (number | string | null)[], spec: PreprocessingSpec): TensorPlan {
  const c = (d: number | string | null | undefined): 1 | 3 | undefined => (d === 1 || d === 3 ? d : undefined);
  let layout = spec.layout;
  if (!layout) layout = inputDims.length === 4 && !c(inputDims[1]) && c(inputDims[3]) ? 'NHWC' : 'NCHW';
  const graphChannels = inputDims.length === 4 ? c(layout === 'NCHW' ? inputDims[1] : inputDims[3]) : undefined;
  return { layout, channels: spec.channels ?? graphChannels };
}

/**
 * The per-example input shape: the image tensor ([C, H, W] or [H, W, C]) when the graph input
 * takes it, else the graph's own shape when the element counts agree (an MLP taking [784] gets
 * flattened 28x28 images). Throws DATASET_MISMATCH naming both shapes otherwise.
 */
export function exampleShape(inputDims: (number | string | null)[], image: { height: number; width: number; channels: number }, layout: Layout, inputName: string, file: string): number[] {
  const natural = layout === 'NCHW' ? [image.channels, image.height, image.width] : [image.height, image.width, image.channels];
  const want = inputDims.slice(1);
  if (want.length === natural.length && want.every((d, i) => typeof d !== 'number' || d === natural[i])) return natural;
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (want.every((d): d is number => typeof d === 'number') && count(want) === count(natural)) return want;
  throw new SoupError(
    'DATASET_MISMATCH',
    `model input "${inputName}" wants [batch, ${want.map((d) => d ?? '?').join(', ')}] but the images give [batch, ${natural.join(', ')}] (${layout}) after preprocessing; set "preprocessing" (resize, centerCrop, channels) for this dataset`,
    file,
  );
}

/**
 * Per-channel lookup table byte -> float: `((k * rescale) - mean[c]) / std[c]`. With a rescale
 * of 1/n the pixel is divided by n, so 1/255 gives exactly the float32 of k/255 (as numpy's
 * `uint8 / 255` and the `.npz` sets).
 */
export function pixelTable(channels: number, spec: PreprocessingSpec, file: string): Float32Array {
  const rescale = spec.rescale ?? DEFAULT_RESCALE;
  const divisor = Math.round(1 / rescale);
  const exactDivide = Math.abs(1 / rescale - divisor) < 1e-9 * divisor;
  const perChannel = (v: number[] | undefined, key: string, fallback: number): number[] => {
    if (!v) return new Array<number>(channels).fill(fallback);
    if (v.length === 1) return new Array<number>(channels).fill(v[0]);
    if (v.length !== channels) throw new SoupError('CONFIG_INVALID', `"preprocessing.${key}" has ${v.length} values but the images have ${channels} channel(s)`, file);
    return v;
  };
  const mean = perChannel(spec.mean, 'mean', 0);
  const std = perChannel(spec.std, 'std', 1);
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    for (let k = 0; k < 256; k++) lut[c * 256 + k] = ((exactDivide ? k / divisor : k * rescale) - mean[c]) / std[c];
  }
  return lut;
}

/** Converts `count` HWC byte images to floats in `layout` through `lut`. */
export function toFloatTensor(bytes: Uint8Array, count: number, height: number, width: number, channels: number, layout: Layout, lut: Float32Array): Float32Array {
  const plane = height * width;
  const per = plane * channels;
  const out = new Float32Array(count * per);
  if (layout === 'NHWC' || channels === 1) {
    for (let i = 0; i < count * per; i++) out[i] = lut[(i % channels) * 256 + bytes[i]];
    return out;
  }
  for (let n = 0; n < count; n++) {
    const base = n * per;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) out[base + c * plane + p] = lut[c * 256 + bytes[base + p * channels + c]];
    }
  }
  return out;
}
