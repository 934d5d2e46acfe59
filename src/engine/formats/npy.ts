import { SoupError } from '../errors';
import { clipText } from '../safeText';

/** Element types the engine reads from `.npy` arrays. */
export type NpyDtype = 'f4' | 'f8' | 'f2' | 'u1' | 'i1' | 'i2' | 'i4' | 'i8' | 'u2' | 'u4' | 'b1';

/** A parsed `.npy` array: C-order data, little-endian. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** The element bytes (length = product(shape) × item size). */
  data: Uint8Array;
}

const ITEM_SIZE: Record<NpyDtype, number> = { f4: 4, f8: 8, f2: 2, u1: 1, i1: 1, i2: 2, i4: 4, i8: 8, u2: 2, u4: 4, b1: 1 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 20;

/**
 * Parses a `.npy` file held in memory (format versions 1.0, 2.0 and 3.0). `source` names the file
 * (and the entry, for `.npz`) in errors. Throws SoupError NPY_INVALID for a bad magic or version,
 * a malformed header, Fortran order, an unsupported dtype, or data shorter or longer than the shape.
 */
export function parseNpy(buf: Uint8Array, source: string): NpyArray {
  const fail = (problem: string): never => {
    throw new SoupError('NPY_INVALID', problem, source);
  };
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) fail('not a .npy array (bad magic bytes)');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${buf[7]}`);
  }
  if (headerLen > MAX_HEADER || headerStart + headerLen > buf.length) fail(`.npy header length ${headerLen} runs past the end of the data`);
  const header = Buffer.from(buf.subarray(headerStart, headerStart + headerLen)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    // The header is file content: name what is missing, never quote it.
    const missing = [descr === undefined && 'descr', fortran === undefined && 'fortran_order', shapeText === undefined && 'shape'].filter(Boolean);
    return fail(`malformed .npy header of ${headerLen} bytes (no valid ${missing.join(', ')})`);
  }
  if (fortran === 'True') fail('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  if (!m) return fail(`unsupported dtype "${clipText(descr, 16)}"`);
  const [, order, kind, sizeText] = m;
  const dtype = `${kind}${sizeText}` as NpyDtype;
  if (!(dtype in ITEM_SIZE)) fail(`unsupported dtype "${descr}" (supported: float16/32/64, int8-64, uint8-32, bool)`);
  if (order === '>' && ITEM_SIZE[dtype] > 1) fail(`big-endian dtype "${descr}" is not supported`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : fail(`malformed shape (${clipText(shapeText, 40)})`)));
  const numel = shape.reduce((a, b) => a * b, 1);
  const need = numel * ITEM_SIZE[dtype];
  const dataStart = headerStart + headerLen;
  const have = buf.length - dataStart;
  if (have < need) fail(`truncated data: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes, found ${have}`);
  if (have > need) fail(`${have - need} bytes of data beyond shape (${shape.join(', ')})`);
  return { dtype, shape, data: buf.subarray(dataStart, dataStart + need) };
}

