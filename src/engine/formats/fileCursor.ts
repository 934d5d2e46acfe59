import type { promises as fsp } from 'node:fs';
import { openRegularFile } from './readInput';

const CHUNK = 1 << 16;

/**
 * Buffered forward reader over an open file for protobuf wire data. Reads only the bytes it is
 * asked for, so large length-delimited fields (weights) can be skipped without reading them,
 * and files larger than one Node buffer can be walked.
 */
export class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  private constructor(
    private readonly fh: fsp.FileHandle,
    readonly size: number,
  ) {}

  /** Opens a regular file (a FIFO or a device is refused without blocking: READ_FAILED). */
  static async open(file: string): Promise<FileCursor> {
    const { fh, size } = await openRegularFile(file);
    return new FileCursor(fh, size);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** Makes at least `n` bytes from `pos` available (fewer only at end of file). */
  private async fill(n: number): Promise<void> {
    const have = this.bufStart + this.buf.length - this.pos;
    if (this.pos >= this.bufStart && have >= n) return;
    const want = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    const next = Buffer.allocUnsafe(Math.max(want, 0));
    const { bytesRead } = want > 0 ? await this.fh.read(next, 0, want, this.pos) : { bytesRead: 0 };
    this.buf = next.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  /** Reads a base-128 varint as a JS number (exact up to 2^53). Returns undefined at EOF. */
  async varint(): Promise<number> {
    await this.fill(10);
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const idx = this.pos - this.bufStart;
      if (idx >= this.buf.length) throw new RangeError('truncated varint');
      const b = this.buf[idx];
      this.pos++;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new RangeError('varint too long');
  }

  /** Reads exactly `n` bytes (a copy). */
  async bytes(n: number): Promise<Buffer> {
    if (this.pos + n > this.size) throw new RangeError('field runs past the end of the file');
    if (n <= CHUNK * 4) {
      await this.fill(n);
      const start = this.pos - this.bufStart;
      this.pos += n;
      return Buffer.from(this.buf.subarray(start, start + n));
    }
    const out = Buffer.allocUnsafe(n);
    const { bytesRead } = await this.fh.read(out, 0, n, this.pos);
    if (bytesRead !== n) throw new RangeError('field runs past the end of the file');
    this.pos += n;
    return out;
  }

  /** Moves forward `n` bytes without reading them. */
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.size) throw new RangeError('field runs past the end of the file');
    this.pos += n;
  }

  /** Skips one field's value of wire type `wt`. */
  async skipValue(wt: number): Promise<void> {
    switch (wt) {
      case 0: await this.varint(); return;
      case 1: this.skip(8); return;
      case 2: this.skip(await this.varint()); return;
      case 5: this.skip(4); return;
      default: throw new RangeError(`unsupported wire type ${wt}`);
    }
  }
}
