/**
 * Opening a file for reading and positioned reads of exact byte ranges, shared by the readers
 * that never load a whole file (safetensors, zip directories, torch checkpoints, tensors).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { SoupError, throwIfAborted } from '../errors';

// One read() call moves at most ~2 GB; big ranges are read in chunks of this size.
const READ_CHUNK_BYTES = 256 * 1024 * 1024;
// With a signal, chunks small enough that a cancel is seen within a few milliseconds.
const CANCELLABLE_CHUNK_BYTES = 8 * 1024 * 1024;

/** Opens `file` read-only; FILE_NOT_FOUND or READ_FAILED naming the file. */
export async function openForReading(file: string): Promise<FileHandle> {
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SoupError('FILE_NOT_FOUND', 'file not found', file);
    throw new SoupError('READ_FAILED', `cannot open (${code ?? (err as Error).message})`, file);
  }
}

/**
 * Reads exactly `length` bytes at `position` into a fresh (so aligned) buffer; READ_FAILED if the
 * file ends first. With `signal`, it is checked between chunks (CANCELLED).
 */
export async function readAt(handle: FileHandle, file: string, position: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const chunk = signal ? CANCELLABLE_CHUNK_BYTES : READ_CHUNK_BYTES;
  for (let done = 0; done < length; ) {
    throwIfAborted(signal);
    const { bytesRead } = await handle.read(out, done, Math.min(chunk, length - done), position + done);
    if (bytesRead === 0) throw new SoupError('READ_FAILED', `file ended early (read ${done} of ${length} bytes at ${position})`, file);
    done += bytesRead;
  }
  return out;
}
