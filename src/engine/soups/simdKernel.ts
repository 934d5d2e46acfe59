import { makeKernel } from './meanWorker';
/**
 * The arithmetic of a uniform soup over one chunk of elements, in two interchangeable versions:
 * a hand-assembled WebAssembly SIMD module (2 float64 lanes per instruction, ~1 KB) and the
 * plain JS loops it replaces. Both give the results of the same IEEE operations in the same order
 * (float32 -> float64 promotion is exact, then one float64 add per member starting from 0, then
 * one float64 division rounded to the output type), so their results are identical bit for bit.
 *
 * When k is a power of two the SIMD float32 mean multiplies by 1/k instead of dividing (a float64
 * division costs several multiplications' time; it was a third of a 2-model mean): x * 2^-j is
 * exactly x / 2^j in IEEE arithmetic, since both are the correctly rounded value of the same real
 * number. For other k it divides. (Multiplying by 1/k and flagging the rare products that could
 * round otherwise was tried: the checks cost as much as the division.)
 *
 * All addresses are byte offsets into one memory (the kernel's `memory`). Element counts are
 * rounded up to a multiple of {@link KERNEL_LANES}: the buffers must have room for that padding,
 * whose results are never used.
 */
export interface ChunkKernel {
  /** The memory every address refers to. Fixed size: it never grows (views stay valid). */
  readonly memory: ArrayBuffer | SharedArrayBuffer;
  /** True for the WebAssembly SIMD version. */
  readonly simd: boolean;
  /** acc[j] = 0 + x[j] for float32 x: the first member, without clearing acc first (0 + -0 is +0, as in a sum from 0). */
  firstF32(acc: number, x: number, n: number): void;
  /** acc[j] = 0 + x[j] for float64 x. */
  firstF64(acc: number, x: number, n: number): void;
  /** acc[j] += x[j] for float32 x (acc float64). */
  addF32(acc: number, x: number, n: number): void;
  /** acc[j] += x[j] for float64 x. */
  addF64(acc: number, x: number, n: number): void;
  /** out[j] = (acc[j] + x[j]) / k rounded to float32: the last member and the mean in one pass (acc is left as it was). */
  lastF32(out: number, acc: number, x: number, n: number, k: number): void;
  /** acc[j] = (0 + x[j]) + y[j] for float32 x and y: the first two members in one pass. */
  pairF32(acc: number, x: number, y: number, n: number): void;
  /** out[j] = ((0 + x[j]) + y[j]) / k rounded to float32: the mean of 2 members in one pass, no float64 sum stored. */
  pairToF32(out: number, x: number, y: number, n: number, k: number): void;
  /** out[j] = acc[j] / k rounded to float32. */
  divToF32(out: number, acc: number, n: number, k: number): void;
  /** out[j] = acc[j] / k (float64). */
  divToF64(out: number, acc: number, n: number, k: number): void;
}

/** Element counts are processed in groups of this many (the padding every buffer must allow). */
export const KERNEL_LANES = 4;

/** A kernel over a fresh memory of at least `bytes` bytes: WebAssembly SIMD when available, else JS. */
export function createKernel(bytes: number, prefer: 'simd' | 'js' = 'simd'): ChunkKernel {
  // One implementation for both threads: the worker's self-contained makeKernel.
  const module = prefer === 'simd' ? simdModule() : null;
  return { ...makeKernel(module, bytes), simd: module !== null };
}

const compiled = new Map<boolean, WebAssembly.Module | null>();

/**
 * The compiled SIMD module (compiled once per thread), or null where WebAssembly SIMD is
 * unavailable. `shared`: the variant that imports a shared memory (an averaging worker's, whose
 * chunk means the main thread reads in place).
 */
export function simdModule(shared = false): WebAssembly.Module | null {
  let m = compiled.get(shared);
  if (m === undefined) {
    const bytes = simdWasm(shared);
    try {
      m = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null;
    }
    compiled.set(shared, m);
  }
  return m;
}

// ---------------------------------------------------------------- the module, by hand
//
// (module
//   (import "e" "m" (memory 1))
//   (func $addF32 (param $acc i32) (param $x i32) (param $n i32)      ;; 4 elements per turn
//     end = x + n*4; while (x < end) {
//       acc[0..1] += f64x2.promote_low_f32x4(v128.load64_zero x)
//       acc[2..3] += f64x2.promote_low_f32x4(v128.load64_zero x+8)
//       acc += 32; x += 16 })
//   (func $addF64 ...)   ;; acc[0..1] += x[0..1]; acc[2..3] += x[2..3]
//   (func $divToF32 (param $out i32) (param $acc i32) (param $n i32) (param $k f64)
//     kk = f64x2.splat k; end = acc + n*8; while (acc < end) {
//       out[0..3] = shuffle(demote(acc[0..1] / kk), demote(acc[2..3] / kk)) ... })
//   (func $divToF64 ...)  ;; out[0..1] = acc[0..1] / kk; out[2..3] = acc[2..3] / kk
//   (func $firstF32 ...)  ;; acc[0..1] = promote(x[0..1]) + 0 (a zero local), ...
//   (func $firstF64 ...)  ;; acc[0..1] = x[0..1] + 0, ...
//   (func $lastDivToF32 (param $out i32) (param $acc i32) (param $x i32) (param $n i32) (param $k f64)
//     out[0..3] = shuffle(demote((acc[0..1] + promote(x[0..1])) / kk), ...))
//   (func $lastMulToF32 ...)  ;; the same with * (1/k), for k a power of two
//   (func $scaleToF32 ...)    ;; $divToF32 with * (1/k), for k a power of two
//   (func $pairF32 (param $acc i32) (param $x i32) (param $y i32) (param $n i32)
//     acc[0..1] = (promote(x[0..1]) + 0) + promote(y[0..1]), ...)
//   (func $pairDivToF32 ...)  ;; out = demote(((0 + x) + y) / kk), 4 elements per turn
//   (func $pairMulToF32 ...)) ;; the same with * (1/k), for k a power of two

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const i32const = (v: number) => [0x41, ...sleb(v)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const load = (offset: number) => simd(0x00, 4, offset); // v128.load align=16
const load64Zero = (offset: number) => simd(0x5d, 3, offset); // v128.load64_zero align=8
const store = (offset: number) => simd(0x0b, 4, offset); // v128.store
const promoteLow = simd(0x5f); // f64x2.promote_low_f32x4
const demoteZero = simd(0x5e); // f32x4.demote_f64x2_zero
const f64x2Add = simd(0xf0);
const f64x2Mul = simd(0xf2);
const f64x2Div = simd(0xf3);
const f64x2Splat = simd(0x14);
const lowHalves = simd(0x0d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); // i8x16.shuffle
const i32add = [0x6a];
const i32shl = [0x74];

/**
 * `end = base + (n << shift); if (base < end) do { body; bump each pointer } while (base < end)`.
 * The last bump must be `base`'s: the loop condition tests the value it leaves on the stack.
 */
function loop(base: number, n: number, shift: number, end: number, body: number[], bumps: [number, number][]): number[] {
  const others = bumps.slice(0, -1);
  const last = bumps[bumps.length - 1];
  if (last[0] !== base) throw new Error('simdKernel: the last pointer bumped must be the loop base');
  return [
    ...get(base), ...get(n), ...i32const(shift), ...i32shl, ...i32add, ...set(end),
    0x02, 0x40, // block
    ...get(base), ...get(end), 0x4f, 0x0d, 0, // i32.ge_u; br_if 0
    0x03, 0x40, // loop
    ...body,
    ...others.flatMap(([l, step]) => [...get(l), ...i32const(step), ...i32add, ...set(l)]),
    ...get(last[0]), ...i32const(last[1]), ...i32add, ...tee(last[0]),
    ...get(end), 0x49, 0x0d, 0, // i32.lt_u; br_if 0
    0x0b, 0x0b, // end loop, end block
  ];
}

function func(locals: [number, number][], code: number[]): number[] {
  const body = [...uleb(locals.length), ...locals.flatMap(([count, type]) => [...uleb(count), type]), ...code, 0x0b];
  return [...uleb(body.length), ...body];
}

/** acc += x, float32 x: params acc(0) x(1) n(2); local end(3). */
const addF32 = func([[1, I32]], loop(1, 2, 2, 3, [
  ...get(0), ...get(0), ...load(0), ...get(1), ...load64Zero(0), ...promoteLow, ...f64x2Add, ...store(0),
  ...get(0), ...get(0), ...load(16), ...get(1), ...load64Zero(8), ...promoteLow, ...f64x2Add, ...store(16),
], [[0, 32], [1, 16]]));

/** acc += x, float64 x: params acc(0) x(1) n(2); local end(3). */
const addF64 = func([[1, I32]], loop(1, 2, 3, 3, [
  ...get(0), ...get(0), ...load(0), ...get(1), ...load(0), ...f64x2Add, ...store(0),
  ...get(0), ...get(0), ...load(16), ...get(1), ...load(16), ...f64x2Add, ...store(16),
], [[0, 32], [1, 32]]));

/** acc = 0 + x, float32 x: params acc(0) x(1) n(2); locals end(3) zero(4) (locals start at 0). */
const firstF32 = func([[1, I32], [1, V128]], loop(1, 2, 2, 3, [
  ...get(0), ...get(1), ...load64Zero(0), ...promoteLow, ...get(4), ...f64x2Add, ...store(0),
  ...get(0), ...get(1), ...load64Zero(8), ...promoteLow, ...get(4), ...f64x2Add, ...store(16),
], [[0, 32], [1, 16]]));

/** acc = 0 + x, float64 x: params acc(0) x(1) n(2); locals end(3) zero(4). */
const firstF64 = func([[1, I32], [1, V128]], loop(1, 2, 3, 3, [
  ...get(0), ...get(1), ...load(0), ...get(4), ...f64x2Add, ...store(0),
  ...get(0), ...get(1), ...load(16), ...get(4), ...f64x2Add, ...store(16),
], [[0, 32], [1, 32]]));

/** out = acc op k as float32 (op: f64x2.div by k, or f64x2.mul by 1/k): params out(0) acc(1) n(2) k(3); locals end(4) kk(5). */
const toF32 = (op: number[]) => func([[1, I32], [1, V128]], [...get(3), ...f64x2Splat, ...set(5), ...loop(1, 2, 3, 4, [
  ...get(0),
  ...get(1), ...load(0), ...get(5), ...op, ...demoteZero,
  ...get(1), ...load(16), ...get(5), ...op, ...demoteZero,
  ...lowHalves, ...store(0),
], [[0, 16], [1, 32]])]);

/** out = (acc + x) op k as float32, float32 x: params out(0) acc(1) x(2) n(3) k(4); locals end(5) kk(6). */
const lastToF32 = (op: number[]) => func([[1, I32], [1, V128]], [...get(4), ...f64x2Splat, ...set(6), ...loop(2, 3, 2, 5, [
  ...get(0),
  ...get(1), ...load(0), ...get(2), ...load64Zero(0), ...promoteLow, ...f64x2Add, ...get(6), ...op, ...demoteZero,
  ...get(1), ...load(16), ...get(2), ...load64Zero(8), ...promoteLow, ...f64x2Add, ...get(6), ...op, ...demoteZero,
  ...lowHalves, ...store(0),
], [[0, 16], [1, 32], [2, 16]])]);

/** acc = (0 + x) + y, float32 x and y: params acc(0) x(1) y(2) n(3); locals end(4) zero(5). */
const pairF32 = func([[1, I32], [1, V128]], loop(1, 3, 2, 4, [
  ...get(0), ...get(1), ...load64Zero(0), ...promoteLow, ...get(5), ...f64x2Add, ...get(2), ...load64Zero(0), ...promoteLow, ...f64x2Add, ...store(0),
  ...get(0), ...get(1), ...load64Zero(8), ...promoteLow, ...get(5), ...f64x2Add, ...get(2), ...load64Zero(8), ...promoteLow, ...f64x2Add, ...store(16),
], [[0, 32], [2, 16], [1, 16]]));

/** out = ((0 + x) + y) op k as float32: the mean of 2 members in one pass. Params out(0) x(1) y(2) n(3) k(4); locals end(5) kk(6) zero(7). */
const pairToF32 = (op: number[]) => func([[1, I32], [2, V128]], [...get(4), ...f64x2Splat, ...set(6), ...loop(1, 3, 2, 5, [
  ...get(0),
  ...get(1), ...load64Zero(0), ...promoteLow, ...get(7), ...f64x2Add, ...get(2), ...load64Zero(0), ...promoteLow, ...f64x2Add, ...get(6), ...op, ...demoteZero,
  ...get(1), ...load64Zero(8), ...promoteLow, ...get(7), ...f64x2Add, ...get(2), ...load64Zero(8), ...promoteLow, ...f64x2Add, ...get(6), ...op, ...demoteZero,
  ...lowHalves, ...store(0),
], [[0, 16], [2, 16], [1, 16]])]);

/** out = acc / k as float64: params out(0) acc(1) n(2) k(3); locals end(4) kk(5). */
const divToF64 = func([[1, I32], [1, V128]], [...get(3), ...f64x2Splat, ...set(5), ...loop(1, 2, 3, 4, [
  ...get(0), ...get(1), ...load(0), ...get(5), ...f64x2Div, ...store(0),
  ...get(0), ...get(1), ...load(16), ...get(5), ...f64x2Div, ...store(16),
], [[0, 32], [1, 32]])]);

const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, items: number[][]) => {
  const content = [...uleb(items.length), ...items.flat()];
  return [id, ...uleb(content.length), ...content];
};
const functions: [string, number, number[]][] = [
  ['addF32', 0, addF32],
  ['addF64', 0, addF64],
  ['divToF32', 1, toF32(f64x2Div)],
  ['divToF64', 1, divToF64],
  ['firstF32', 0, firstF32],
  ['firstF64', 0, firstF64],
  ['scaleToF32', 1, toF32(f64x2Mul)],
  ['lastDivToF32', 2, lastToF32(f64x2Div)],
  ['lastMulToF32', 2, lastToF32(f64x2Mul)],
  ['pairF32', 3, pairF32],
  ['pairDivToF32', 2, pairToF32(f64x2Div)],
  ['pairMulToF32', 2, pairToF32(f64x2Mul)],
];

/** The module's bytes (about 1 KB); `shared`: it imports a shared memory of at most 4 GB. */
export function simdWasm(shared: boolean): Uint8Array<ArrayBuffer> {
  // Memory limits: 0x00 min; 0x03 shared, min and max (a shared memory must declare its max).
  const limits = shared ? [0x03, 1, ...uleb(65536)] : [0x00, 1];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [
      [0x60, 3, I32, I32, I32, 0], // type 0: (i32 i32 i32) -> ()
      [0x60, 4, I32, I32, I32, F64, 0], // type 1: (i32 i32 i32 f64) -> ()
      [0x60, 5, I32, I32, I32, I32, F64, 0], // type 2: (i32 i32 i32 i32 f64) -> ()
      [0x60, 4, I32, I32, I32, I32, 0], // type 3: (i32 i32 i32 i32) -> ()
    ]),
    ...section(2, [[...name('e'), ...name('m'), 0x02, ...limits]]), // import memory "e" "m"
    ...section(3, functions.map(([, type]) => [type])), // function types
    ...section(7, functions.map(([n], i) => [...name(n), 0x00, i])), // exports
    ...section(10, functions.map(([, , code]) => code)),
  ]);
}

/** The module that imports an ordinary memory. */
export const SIMD_WASM = simdWasm(false);

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}
