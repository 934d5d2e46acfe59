/**
 * Streaming reader of TensorBoard event files (`events.out.tfevents.*`): a TFRecord file of
 * `Event` protos. Each record is
 *
 *     uint64 length | uint32 masked CRC-32C of length | data[length] | uint32 masked CRC-32C of data
 *
 * (little-endian). The file is read with positioned reads through a window of {@link WINDOW_BYTES},
 * never whole. Writers get killed mid-record and disks flip bits, so a bad record never fails
 * the file: it is skipped and counted. A record whose length checksum holds but whose data does
 * not is stepped over; when the length itself is bad (checksum mismatch, past the end of the
 * file, over {@link MAX_RECORD_BYTES}) the reader searches forward, byte by byte, for the next
 * position where a length and its checksum agree, and counts the bytes between as one bad record.
 */
import { promises as fsp } from 'node:fs';
import { SoupError, throwIfAborted } from '../errors';
import { maskedCrc32c } from './crc32c';
import { decodeEvent } from './tfeventProto';

/** Records longer than this are skipped unread (scalar events are tens of bytes; images can be MBs). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** Bytes read per positioned read. */
export const WINDOW_BYTES = 1024 * 1024;
/** How many bad-record descriptions are kept (all are counted). */
export const MAX_PROBLEMS = 5;

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
  let window: RecordWindow | undefined;
  try {
    window = await RecordWindow.open(file);
    const { size } = window;
    const bad = (at: number, problem: string): void => {
      out.skipped++;
      if (out.problems.length < MAX_PROBLEMS) out.problems.push(`record at byte ${at}: ${problem}`);
    };
    let pos = 0;
    let sinceCheck = 0;
    while (pos < size) {
      if (++sinceCheck === 4096) {
        sinceCheck = 0;
        throwIfAborted(options.signal);
      }
      const header = await window.header(pos);
      if (!header) {
        bad(pos, `truncated (${size - pos} bytes left, a record header needs ${HEADER_BYTES})`);
        break;
      }
      const end = pos + HEADER_BYTES + header.length + FOOTER_BYTES;
      if (!header.crcOk || header.length > maxRecord || end > size) {
        const problem = !header.crcOk ? 'length checksum mismatch'
          : end > size ? `length ${header.length} runs past the end of the file (truncated record)`
          : `length ${header.length} is over the limit of ${maxRecord} bytes`;
        bad(pos, problem);
        pos = await resync(window, pos + 1, maxRecord, options.signal);
        continue;
      }
      const data = await window.bytes(pos + HEADER_BYTES, header.length + FOOTER_BYTES);
      const stored = readU32(data, header.length);
      if (maskedCrc32c(data, 0, header.length) !== stored) {
        bad(pos, 'data checksum mismatch');
      } else {
        try {
          const event = decodeEvent(data.subarray(0, header.length), options.tags);
          out.records++;
          for (const s of event.scalars) addPoint(out.series, s.tag, { step: event.step, value: s.value, wallTime: event.wallTime, float32: s.float32 });
        } catch (err) {
          bad(pos, `not an Event proto (${(err as Error).message})`);
        }
      }
      pos = end;
    }
  } finally {
    await window?.close();
  }
  return out;
}

function addPoint(series: Map<string, ScalarPoint[]>, tag: string, point: ScalarPoint): void {
  const points = series.get(tag);
  if (points) points.push(point);
  else series.set(tag, [point]);
}

/** The next position at or after `from` where a plausible record header starts, else the file size. */
async function resync(window: RecordWindow, from: number, maxRecord: number, signal: AbortSignal | undefined): Promise<number> {
  for (let p = from; p + HEADER_BYTES <= window.size; p++) {
    if ((p & 0xffff) === 0) throwIfAborted(signal);
    const h = await window.header(p);
    if (h && h.crcOk && h.length <= maxRecord && p + HEADER_BYTES + h.length + FOOTER_BYTES <= window.size) return p;
  }
  return window.size;
}

function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** A sliding read window over an open file. */
class RecordWindow {
  private backing: Buffer = Buffer.alloc(0);
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

  /** The length and whether its checksum holds, or undefined when fewer than 12 bytes are left. */
  async header(pos: number): Promise<{ length: number; crcOk: boolean } | undefined> {
    if (pos + HEADER_BYTES > this.size) return undefined;
    const b = await this.bytes(pos, HEADER_BYTES);
    // uint64 as a float: exact below 2^53, and anything near that is rejected as too long anyway.
    const length = readU32(b, 0) + readU32(b, 4) * 0x100000000;
    return { length, crcOk: maskedCrc32c(b, 0, 8) === readU32(b, 8) };
  }

  /** `n` bytes at `pos` (a view valid until the next call); the caller checked they are in the file. */
  async bytes(pos: number, n: number): Promise<Buffer> {
    if (pos < this.start || pos + n > this.start + this.len) await this.load(pos, n);
    return this.backing.subarray(pos - this.start, pos - this.start + n);
  }

  private async load(pos: number, n: number): Promise<void> {
    const want = Math.min(Math.max(n, WINDOW_BYTES), this.size - pos);
    // Grown for a long record, shrunk back afterwards: one window's memory in the usual case.
    const capacity = Math.max(want, Math.min(WINDOW_BYTES, this.size));
    if (this.backing.length < want || this.backing.length > capacity) this.backing = Buffer.allocUnsafe(capacity);
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await this.fh.read(this.backing, got, want - got, pos + got);
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
