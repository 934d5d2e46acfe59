/**
 * A small TensorBoard event-file writer for the benchmark and the tests: TFRecord framing with
 * masked CRC-32C, `Event` protos with scalars as `simple_value` (as `torch.utils.tensorboard`
 * writes them) or as scalar float/double `tensor`s (as `tf.summary.scalar` does).
 */
import { promises as fsp } from 'node:fs';
import { maskedCrc32c } from '../../src/engine/formats/crc32c';
import { lengthDelimited, tag, varint } from '../../src/engine/formats/protoWire';

/** One scalar to write; `as` picks the encoding (default `simple`). */
export interface ScalarSpec {
  tag: string;
  value: number;
  as?: 'simple' | 'tensorFloat' | 'tensorDouble' | 'tensorContent';
}

/** One event to write. */
export interface EventSpec {
  step: number;
  wallTime?: number;
  fileVersion?: string;
  scalars?: ScalarSpec[];
}

function fixed32Float(field: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return Buffer.concat([tag(field, 5), b]);
}

function fixed64Double(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return Buffer.concat([tag(field, 1), b]);
}

function scalarTensor(s: ScalarSpec): Buffer {
  // TensorProto: dtype = 1 (DT_FLOAT 1, DT_DOUBLE 2), tensor_shape = 2 (empty: a scalar), tensor_content = 4, float_val = 5, double_val = 6.
  const shape = lengthDelimited(2, Buffer.alloc(0));
  if (s.as === 'tensorDouble') return Buffer.concat([tag(1, 0), varint(2), shape, fixed64Double(6, s.value)]);
  if (s.as === 'tensorContent') {
    const c = Buffer.alloc(4);
    c.writeFloatLE(s.value);
    return Buffer.concat([tag(1, 0), varint(1), shape, lengthDelimited(4, c)]);
  }
  const packed = Buffer.alloc(4);
  packed.writeFloatLE(s.value);
  return Buffer.concat([tag(1, 0), varint(1), shape, lengthDelimited(5, packed)]);
}

/** An `Event` proto: wall_time = 1, step = 2, file_version = 3, summary = 5 (Summary.Value: tag = 1, simple_value = 2, tensor = 8). */
export function encodeEvent(e: EventSpec): Buffer {
  const parts = [fixed64Double(1, e.wallTime ?? 1_700_000_000), tag(2, 0), varint(e.step)];
  if (e.fileVersion) parts.push(lengthDelimited(3, Buffer.from(e.fileVersion)));
  if (e.scalars?.length) {
    const values = e.scalars.map((s) => {
      const body = (s.as ?? 'simple') === 'simple' ? fixed32Float(2, s.value) : lengthDelimited(8, scalarTensor(s));
      return lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(s.tag)), body]));
    });
    parts.push(lengthDelimited(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length));
  header.writeUInt32LE(maskedCrc32c(header, 0, 8), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([header, data, footer]);
}

/** A whole event file: the `brain.Event:2` version record, then `events`. */
export function encodeEventFile(events: readonly EventSpec[]): Buffer {
  return Buffer.concat([frameRecord(encodeEvent({ step: 0, fileVersion: 'brain.Event:2' })), ...events.map((e) => frameRecord(encodeEvent(e)))]);
}

/** Writes {@link encodeEventFile} of `events` to `file`. */
export async function writeEventFile(file: string, events: readonly EventSpec[]): Promise<void> {
  await fsp.writeFile(file, encodeEventFile(events));
}
