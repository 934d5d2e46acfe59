import { constants, openSync, closeSync, fstatSync, readSync, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { SoupError, throwIfAborted } from '../errors';
import type { ReadBudget } from './readBudget';

// O_NONBLOCK: opening a FIFO for reading must not wait for a writer; the fstat below refuses it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
/** Bytes per read: small enough that a cancel is seen within a few milliseconds. */
const READ_CHUNK = 8 * 1024 * 1024;

/** Options for {@link readInputFile}. */
export interface ReadInputOptions {
  /** The file's bytes are reserved here before they are allocated. */
  budget?: ReadBudget;
  /** Checked between chunks: a read of any size can be cancelled. */
  signal?: AbortSignal;
}

/**
 * Reads a whole input file (a dataset, an array). Only regular files are read: a FIFO, a device
 * (`/dev/zero`), a socket or a folder is refused before any byte is read, so none can hang or
 * grow without end. The size is reserved in `budget` before allocating, and the read is done in
 * chunks that check `signal`. Throws a SoupError naming the file: FILE_NOT_FOUND for a missing
 * one ("<what> not found"), TOO_LARGE over the budget, CANCELLED, READ_FAILED otherwise.
 */
export async function readInputFile(file: string, what: string, opts: ReadInputOptions = {}): Promise<Buffer> {
  const { fh, size } = await openInputFile(file, what);
  try {
    opts.budget?.reserve(size, what, file);
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      throwIfAborted(opts.signal);
      const { bytesRead } = await fh.read(out, filled, Math.min(READ_CHUNK, size - filled), filled);
      if (bytesRead === 0) throw new SoupError('READ_FAILED', `file shrank while being read (${filled} of ${size} bytes)`, file);
      filled += bytesRead;
    }
    return out;
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw new SoupError('READ_FAILED', `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  } finally {
    await fh.close();
  }
}

/**
 * Opens an input file for reading, as {@link readInputFile} does: regular files only (a FIFO, a
 * device or a folder is refused without blocking), errors as SoupErrors naming the file
 * (FILE_NOT_FOUND "<what> not found", READ_FAILED). The caller closes the handle.
 */
export async function openInputFile(file: string, what: string): Promise<{ fh: fsp.FileHandle; size: number }> {
  try {
    return await openRegularFile(file);
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw openError(err, file, what);
  }
}

/**
 * Reads a small text file synchronously (the config file): regular files only, at most
 * `maxBytes`, else a SoupError naming the file (FILE_NOT_FOUND, TOO_LARGE, READ_FAILED).
 */
export function readSmallTextFileSync(file: string, what: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw openError(err, file, what);
  }
  try {
    const st = fstatSync(fd);
    checkRegular(st, file);
    if (st.size > maxBytes) throw new SoupError('TOO_LARGE', `${st.size} bytes is too large for a ${what} (limit ${maxBytes})`, file);
    const out = Buffer.allocUnsafe(st.size);
    let filled = 0;
    while (filled < st.size) {
      const n = readSync(fd, out, filled, st.size - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return out.subarray(0, filled).toString('utf8');
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw new SoupError('READ_FAILED', `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  } finally {
    closeSync(fd);
  }
}

/** Opens a file for reading without blocking on a FIFO; refuses anything but a regular file. */
export async function openRegularFile(file: string): Promise<{ fh: fsp.FileHandle; size: number }> {
  const fh = await fsp.open(file, OPEN_FLAGS);
  try {
    const st = await fh.stat();
    checkRegular(st, file);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** What kind of file system entry `st` is, for messages ("a FIFO", "a character device"). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkRegular(st: Stats, file: string): void {
  if (!st.isFile()) throw new SoupError('READ_FAILED', `is ${fileKind(st)}, not a regular file; refused`, file);
}

function openError(err: unknown, file: string, what: string): SoupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SoupError('FILE_NOT_FOUND', `${what} not found`, file);
  return new SoupError('READ_FAILED', `cannot open (${code ?? (err as Error).message})`, file);
}
