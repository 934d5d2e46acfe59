/**
 * Decodes the parts of TensorBoard's `Event` protos (tensorflow/core/util/event.proto) that
 * hold scalars: `Event.step`, `Event.wall_time`, `Event.summary` -> `Summary.Value` with `tag`
 * and either `simple_value` (what `torch.utils.tensorboard` and Lightning write) or a scalar
 * `tensor` (`TensorProto`, what `tf.summary.scalar` writes). Walked field by field with
 * protobufjs' wire Reader: images, histograms and graphs are skipped without being decoded.
 */
import { Reader } from 'protobufjs';
import type { Long } from 'protobufjs';

/** A scalar of one event. `float32` says the value was stored as a 32-bit float. */
export interface EventScalar {
  tag: string;
  value: number;
  float32: boolean;
}

/** What one event holds for the scalar reader. */
export interface DecodedEvent {
  step: number;
  wallTime: number;
  scalars: EventScalar[];
}

// Field numbers of the official protos.
const EVENT = { wallTime: 1, step: 2, summary: 5 } as const;
const SUMMARY_VALUE = 1;
const VALUE = { tag: 1, simpleValue: 2, tensor: 8 } as const;
const TENSOR = { dtype: 1, shape: 2, content: 4, floatVal: 5, doubleVal: 6 } as const;
const SHAPE_DIM = 2;
const DIM_SIZE = 1;
const DT_FLOAT = 1;
const DT_DOUBLE = 2;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/**
 * Decodes the scalars of the event in `r.buf[start, end)`; `wanted` filters tags (all when
 * absent). `r` is reused (one Reader per buffer, not per record: a scan decodes millions of
 * events), sub-messages are read by narrowing `r.len`, not by copying. Throws (a plain Error from
 * the wire reader) on malformed wire data: unknown wire type, truncated field, bad varint.
 * Non-scalar tensors and tensor dtypes other than float/double are ignored, not errors.
 */
export function decodeEventAt(r: Reader, start: number, end: number, wanted?: ReadonlySet<string>): DecodedEvent {
  r.pos = start;
  r.len = end;
  const out: DecodedEvent = { step: 0, wallTime: 0, scalars: [] };
  while (r.pos < end) {
    const key = r.uint32();
    const field = key >>> 3;
    const wt = key & 7;
    if (field === EVENT.wallTime && wt === WIRE_FIXED64) out.wallTime = r.double();
    else if (field === EVENT.step && wt === WIRE_VARINT) out.step = longToNumber(r.int64());
    else if (field === EVENT.summary && wt === WIRE_BYTES) {
      const outer = enter(r);
      decodeSummary(r, wanted, out.scalars);
      leave(r, outer);
    }
    else r.skipType(wt, 0, field);
  }
  return out;
}

/**
 * Narrows `r.len` to the next length-delimited field and returns the outer limit; pair with
 * {@link leave}. Reading sub-messages in place saves a Reader and a buffer view per field.
 */
function enter(r: Reader): number {
  const len = r.uint32();
  const outer = r.len;
  if (r.pos + len > outer) throw new RangeError(`field of ${len} bytes runs past its message`);
  r.len = r.pos + len;
  return outer;
}

/** Moves `r` past the field {@link enter} narrowed it to and restores the outer limit. */
function leave(r: Reader, outer: number): void {
  r.pos = r.len;
  r.len = outer;
}

function decodeSummary(r: Reader, wanted: ReadonlySet<string> | undefined, into: EventScalar[]): void {
  while (r.pos < r.len) {
    const key = r.uint32();
    if (key >>> 3 === SUMMARY_VALUE && (key & 7) === WIRE_BYTES) {
      const outer = enter(r);
      const scalar = decodeValue(r, wanted);
      leave(r, outer);
      if (scalar) into.push(scalar);
    } else r.skipType(key & 7, 0, key >>> 3);
  }
}

function decodeValue(r: Reader, wanted: ReadonlySet<string> | undefined): EventScalar | undefined {
  let tag: string | undefined;
  let simple: number | undefined;
  let tensorAt = -1;
  while (r.pos < r.len) {
    const key = r.uint32();
    const field = key >>> 3;
    const wt = key & 7;
    if (field === VALUE.tag && wt === WIRE_BYTES) tag = r.string();
    else if (field === VALUE.simpleValue && wt === WIRE_FIXED32) simple = r.float();
    else if (field === VALUE.tensor && wt === WIRE_BYTES) {
      // Decoded only if the tag is wanted, which may come after it.
      tensorAt = r.pos;
      r.skipType(wt, 0, field);
    } else r.skipType(wt, 0, field);
  }
  if (tag === undefined || (wanted && !wanted.has(tag))) return undefined;
  if (simple !== undefined) return { tag, value: simple, float32: true };
  if (tensorAt < 0) return undefined;
  r.pos = tensorAt;
  const outer = enter(r);
  const t = decodeScalarTensor(r);
  leave(r, outer);
  return t && { tag, ...t };
}

/** A `TensorProto` holding one float or double, from its typed field or `tensor_content`. */
function decodeScalarTensor(r: Reader): { value: number; float32: boolean } | undefined {
  let dtype = 0;
  let elements = 1;
  let content: Uint8Array | undefined;
  const floats: number[] = [];
  const doubles: number[] = [];
  while (r.pos < r.len) {
    const key = r.uint32();
    const field = key >>> 3;
    const wt = key & 7;
    if (field === TENSOR.dtype && wt === WIRE_VARINT) dtype = r.int32();
    else if (field === TENSOR.shape && wt === WIRE_BYTES) {
      const outer = enter(r);
      elements = shapeElements(r);
      leave(r, outer);
    }
    else if (field === TENSOR.content && wt === WIRE_BYTES) content = r.bytes();
    else if (field === TENSOR.floatVal && wt === WIRE_BYTES) r.floats(floats);
    else if (field === TENSOR.floatVal && wt === WIRE_FIXED32) floats.push(r.float());
    else if (field === TENSOR.doubleVal && wt === WIRE_BYTES) r.doubles(doubles);
    else if (field === TENSOR.doubleVal && wt === WIRE_FIXED64) doubles.push(r.double());
    else r.skipType(wt, 0, field);
  }
  if (elements !== 1) return undefined;
  const view = content && new DataView(content.buffer, content.byteOffset, content.byteLength);
  if (dtype === DT_FLOAT) {
    if (floats.length > 0) return { value: floats[0], float32: true };
    if (view && view.byteLength === 4) return { value: view.getFloat32(0, true), float32: true };
  } else if (dtype === DT_DOUBLE) {
    if (doubles.length > 0) return { value: doubles[0], float32: false };
    if (view && view.byteLength === 8) return { value: view.getFloat64(0, true), float32: false };
  }
  return undefined;
}

/** Number of elements of a `TensorShapeProto` (1 for a scalar: no dims). */
function shapeElements(r: Reader): number {
  let n = 1;
  while (r.pos < r.len) {
    const key = r.uint32();
    if (key >>> 3 === SHAPE_DIM && (key & 7) === WIRE_BYTES) {
      const outer = enter(r);
      let size = 1;
      while (r.pos < r.len) {
        const dk = r.uint32();
        if (dk >>> 3 === DIM_SIZE && (dk & 7) === WIRE_VARINT) size = longToNumber(r.int64());
        else r.skipType(dk & 7, 0, dk >>> 3);
      }
      leave(r, outer);
      n *= size;
    } else r.skipType(key & 7, 0, key >>> 3);
  }
  return n;
}

/** An int64 as a JS number (protobufjs returns a Long when the `long` package is present). */
function longToNumber(v: Long | number): number {
  return typeof v === 'number' ? v : v.high * 0x100000000 + (v.low >>> 0);
}
