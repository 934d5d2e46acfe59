/**
 * Streaming reader of TensorBoard event files (`events.out.tfevents.*`): a TFRecord file of
 * `Event` protos. Each record is
 *
 *     uint64 length | uint32 masked CRC-32C of length | data[length] | uint32 masked CRC-32C of data
 *
 * (little-endian). The file is read with positioned reads through a window of {@link WINDOW_BYTES},
 * never whole. Writers get killed mid-record and disks flip bits, so a bad record never fails
 * the file: it is skipped and counted. A record whose length checksum holds is stepped over when
 * its data checksum fails or it is longer than {@link MAX_RECORD_BYTES} (unread); when the length
 * itself is bad (checksum mismatch, past the end of the file) the reader searches forward, byte by
 * byte, for the next position where a length and its checksum agree, and counts the bytes between
 * as one bad record.
 */
import { promises as fsp } from 'node:fs';
import { Reader } from 'protobufjs';
import { SoupError, throwIfAborted } from '../errors';
import { maskedCrc32c } from './crc32c';
import { decodeEventAt } from './tfeventProto';

/** Records longer than this are skipped unread (scalar events are tens of bytes; images can be MBs). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** Bytes read per positioned read. */
export const WINDOW_BYTES = 1024 * 1024;
/** How many bad-record descriptions are kept (all are counted). */
export const MAX_PROBLEMS = 5;

/** Records decoded between turns given to the event loop. */
export const YIELD_EVERY = 2048;

const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;

/** One scalar of a series. `float32`: stored as a 32-bit float (TensorBoard's usual type). */
export interface ScalarPoint {
  step: number;
  value: number;
  wallTime: number;
  float32: boolean;
}

/** The scalars of an event file and how its records fared. */
export interface EventScalars {
  /** Scalar series by tag, points in file order. */
  series: Map<string, ScalarPoint[]>;
  /** Records with valid framing and checksums that decoded as events. */
  records: number;
  /** Bad records skipped: checksum mismatch, truncated, absurd length, or not an `Event`. */
  skipped: number;
  /** Descriptions of the first {@link MAX_PROBLEMS} bad records (byte offset and kind; never file contents). */
  problems: string[];
}

/** Options of {@link readEventScalars}. */
export interface ReadEventsOptions {
  /** Keep only these tags (all scalars when absent): saves memory on long `train_loss` series. */
  tags?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** Per-record limit, default {@link MAX_RECORD_BYTES}. */
  maxRecordBytes?: number;
}

/**
 * Reads the scalars of one event file. Bad records are skipped and counted (see the module
 * comment); only an unreadable file throws: FILE_NOT_FOUND or READ_FAILED naming it, and
 * CANCELLED when `signal` fires.
 */
export async function readEventScalars(file: string, options: ReadEventsOptions = {}): Promise<EventScalars> {
  const out: EventScalars = { series: new Map(), records: 0, skipped: 0, problems: [] };
  const maxRecord = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  let w: RecordWindow | undefined;
  try {
    w = await RecordWindow.open(file);
    const { size } = w;
    const bad = (at: number, problem: string): void => {
      out.skipped++;
      if (out.problems.length < MAX_PROBLEMS) out.problems.push(`record at byte ${at}: ${problem}`);
    };
    let pos = 0;
    let sinceYield = 0;
    while (pos < size) {
      if (++sinceYield === YIELD_EVERY) {
        // Records already in memory decode without an await: give the event loop its turn.
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
        throwIfAborted(options.signal);
      }
      if (size - pos < HEADER_BYTES) {
        bad(pos, `truncated (${size - pos} bytes left, a record header needs ${HEADER_BYTES})`);
        break;
      }
      if (!w.holds(pos, HEADER_BYTES)) await w.load(pos, HEADER_BYTES);
      const length = w.recordLength(pos);
      const end = pos + HEADER_BYTES + length + FOOTER_BYTES;
      if (length < 0 || end > size) {
        bad(pos, length < 0 ? 'length checksum mismatch' : `length ${length} runs past the end of the file (truncated record)`);
        pos = await resync(w, pos + 1, maxRecord, options.signal);
        continue;
      }
      if (length > maxRecord) {
        // A trustworthy length (its checksum holds) that fits the file: stepped over unread.
        bad(pos, `length ${length} is over the limit of ${maxRecord} bytes`);
        pos = end;
        continue;
      }
      if (!w.holds(pos, end - pos)) await w.load(pos, end - pos);
      const dataAt = w.offset(pos) + HEADER_BYTES;
      if (maskedCrc32c(w.buf, dataAt, dataAt + length) !== readU32(w.buf, dataAt + length)) {
        bad(pos, 'data checksum mismatch');
      } else {
        try {
          const event = decodeEventAt(w.reader, dataAt, dataAt + length, options.tags);
          out.records++;
          for (const s of event.scalars) addPoint(out.series, s.tag, { step: event.step, value: s.value, wallTime: event.wallTime, float32: s.float32 });
        } catch (err) {
          bad(pos, `not an Event proto (${(err as Error).message})`);
        }
      }
      pos = end;
    }
  } finally {
    await w?.close();
  }
  return out;
}

function addPoint(series: Map<string, ScalarPoint[]>, tag: string, point: ScalarPoint): void {
  const points = series.get(tag);
  if (points) points.push(point);
  else series.set(tag, [point]);
}

/** The next position at or after `from` where a plausible record header starts, else the file size. */
async function resync(w: RecordWindow, from: number, maxRecord: number, signal: AbortSignal | undefined): Promise<number> {
  for (let p = from; p + HEADER_BYTES <= w.size; p++) {
    if ((p & 0xffff) === 0) throwIfAborted(signal);
    if (!w.holds(p, HEADER_BYTES)) await w.load(p, HEADER_BYTES);
    const length = w.recordLength(p);
    if (length >= 0 && length <= maxRecord && p + HEADER_BYTES + length + FOOTER_BYTES <= w.size) return p;
  }
  return w.size;
}

function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** A sliding read window over an open file, with one wire Reader over it. */
class RecordWindow {
  buf: Buffer = Buffer.alloc(0);
  reader: Reader = Reader.create(this.buf);
  private start = 0;
  private len = 0;

  private constructor(
    private readonly fh: fsp.FileHandle,
    private readonly file: string,
    readonly size: number,
  ) {}

  static async open(file: string): Promise<RecordWindow> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (err) {
      throw fsError(err, file);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new SoupError('READ_FAILED', 'not a file', file);
      return new RecordWindow(fh, file, st.size);
    } catch (err) {
      await fh.close();
      throw err instanceof SoupError ? err : fsError(err, file);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** True when file bytes `[pos, pos + n)` are in the window. */
  holds(pos: number, n: number): boolean {
    return pos >= this.start && pos + n <= this.start + this.len;
  }

  /** Index in {@link buf} of file position `pos` (which the window holds). */
  offset(pos: number): number {
    return pos - this.start;
  }

  /** The record length at `pos` (header in the window), or -1 when its checksum does not hold. */
  recordLength(pos: number): number {
    const o = pos - this.start;
    if (maskedCrc32c(this.buf, o, o + 8) !== readU32(this.buf, o + 8)) return -1;
    // uint64 as a float: exact below 2^53, and anything near that is rejected as too long anyway.
    return readU32(this.buf, o) + readU32(this.buf, o + 4) * 0x100000000;
  }

  /** Reads file bytes from `pos`: at least `n` (the caller checked they are in the file), a window's worth when there are. */
  async load(pos: number, n: number): Promise<void> {
    const want = Math.min(Math.max(n, WINDOW_BYTES), this.size - pos);
    // Grown for a long record, shrunk back afterwards: one window's memory in the usual case.
    const capacity = Math.max(want, Math.min(WINDOW_BYTES, this.size));
    if (this.buf.length < want || this.buf.length > capacity) {
      this.buf = Buffer.allocUnsafe(capacity);
      this.reader = Reader.create(this.buf);
    }
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await this.fh.read(this.buf, got, want - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      throw fsError(err, this.file);
    }
    this.start = pos;
    this.len = got;
    if (got < n) throw new SoupError('READ_FAILED', `file shrank while being read (at byte ${pos + got})`, this.file);
  }
}

function fsError(err: unknown, file: string): SoupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SoupError('FILE_NOT_FOUND', 'event file not found', file);
  return new SoupError('READ_FAILED', `cannot read (${code ?? (err as Error).message})`, file);
}
