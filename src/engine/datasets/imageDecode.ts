import type * as SharpTypes from 'sharp';
import type { Resample, Size } from './preprocessing';

// require('sharp') is the constructor itself (module.exports = Sharp), typed as the default export.
type SharpModule = SharpTypes.SharpConstructor;

// Loaded lazily: only the background process and the CLI decode images, never the extension host.
let sharpModule: SharpModule | undefined;
function sharp(): SharpModule {
  if (!sharpModule) {
    sharpModule = require('sharp') as SharpModule;
    // Each image is read once per cook: libvips' operation cache would only hold memory.
    sharpModule.cache(false);
  }
  return sharpModule;
}

/**
 * Images larger than this many pixels are refused before their pixels are decoded: a small
 * file can declare 30000x30000 (a decompression bomb). sharp's own default limit, 0x3FFF².
 */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

/** File extensions decoded as images (lower case); other files are skipped and counted. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/** The geometric and colour steps of preprocessing, applied by libvips. */
export interface DecodeSteps {
  resize?: { shortestEdge: number } | Size;
  resample: Resample;
  centerCrop?: Size;
  /** Target channels; undefined = the image's own mode (grayscale stays one channel). */
  channels?: 1 | 3;
}

/** Decoded 8-bit pixels, interleaved (HWC). */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

const KERNELS: Record<Resample, keyof SharpTypes.KernelEnum> = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' };

/**
 * Decodes one image file with sharp (libvips) and applies resize, center crop and channel
 * conversion. Throws a plain Error with libvips' reason for anything unreadable (truncated,
 * corrupt, over {@link MAX_INPUT_PIXELS}); the folder reader decides what that means.
 */
export async function decodeImage(file: string, steps: DecodeSteps): Promise<DecodedImage> {
  const s = sharp();
  const options: SharpTypes.SharpOptions = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', sequentialRead: true };
  // The header is read without the limit (no pixels are decoded) so that the refusal can say the size.
  const meta = await s(file, { ...options, limitInputPixels: false }).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > MAX_INPUT_PIXELS) throw new Error(`declares ${width}x${height} pixels, over the limit of ${MAX_INPUT_PIXELS} (a decompression bomb?)`);
  let img = s(file, options);
  let w = width;
  let h = height;
  if (steps.resize) {
    const r = steps.resize;
    if ('shortestEdge' in r) {
      // torchvision / Hugging Face: the short side becomes `shortestEdge`, the long one int(S * long / short).
      const e = r.shortestEdge;
      [w, h] = w <= h ? [e, Math.floor((e * h) / w)] : [Math.floor((e * w) / h), e];
    } else {
      [w, h] = [r.width, r.height];
    }
    if (w !== width || h !== height) img = img.resize({ width: w, height: h, fit: 'fill', kernel: KERNELS[steps.resample] });
  }
  if (steps.centerCrop) {
    const c = steps.centerCrop;
    if (c.width > w || c.height > h) throw new Error(`is ${w}x${h} after resizing, smaller than the ${c.width}x${c.height} center crop`);
    if (c.width !== w || c.height !== h) img = img.extract({ left: Math.floor((w - c.width) / 2), top: Math.floor((h - c.height) / 2), width: c.width, height: c.height });
  }
  const own: 1 | 3 = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2 ? 1 : 3;
  const channels = steps.channels ?? own;
  if (meta.hasAlpha) img = img.removeAlpha();
  // sharp writes sRGB unless told otherwise, also for a grayscale input.
  img = img.toColourspace(channels === 1 ? 'b-w' : 'srgb');
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || data.length !== info.width * info.height * channels) {
    throw new Error(`decoded to ${info.channels} channels of ${info.width}x${info.height}; expected ${channels}`);
  }
  return { data, width: info.width, height: info.height, channels };
}
