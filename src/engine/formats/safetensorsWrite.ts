/**
 * safetensors writer: `[u64 N][N bytes of JSON header, space-padded to a multiple of 8][data]`,
 * with `__metadata__` (`{"format": "pt"}` unless given), tensors in the order given. The header
 * is written first from the tensors' specs; each tensor's bytes are then asked for and written
 * one at a time, so a soup never has to be in memory whole.
 */
import { promises as fsp } from 'node:fs';
import { SoupError } from '../errors';
import type { TensorData } from './safetensors';
import { dtypeSize, type TensorDtype } from './tensorDtypes';

/** A tensor to write: its name, dtype and shape (its bytes are asked for later). */
export interface SafetensorsTensorSpec {
  name: string;
  dtype: TensorDtype;
  shape: readonly number[];
}

/** The header bytes (padded) and each tensor's data offsets, for the specs in order. */
export function safetensorsHeader(specs: readonly SafetensorsTensorSpec[], metadata: Record<string, string> = { format: 'pt' }): { header: Buffer; byteLengths: number[] } {
  const json: Record<string, unknown> = { __metadata__: metadata };
  const byteLengths: number[] = [];
  let offset = 0;
  for (const s of specs) {
    if (s.name === '__metadata__' || s.name in json) throw new RangeError(`tensor name "${s.name}" is reserved or repeated`);
    const bytes = s.shape.reduce((a, b) => a * b, 1) * dtypeSize(s.dtype);
    json[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [offset, offset + bytes] };
    byteLengths.push(bytes);
    offset += bytes;
  }
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Buffer.alloc(Math.ceil(text.length / 8) * 8, 0x20);
  text.copy(padded);
  const header = Buffer.alloc(8 + padded.length);
  header.writeBigUInt64LE(BigInt(padded.length), 0);
  padded.copy(header, 8);
  return { header, byteLengths };
}

/**
 * Writes a safetensors file at `file` (created or replaced; the caller makes it atomic by
 * writing a temporary name and renaming). `data(i)` gives tensor i's elements in its dtype's
 * own layout (F16/BF16 as Uint16 bits), little-endian. Throws SoupError WRITE_FAILED naming the
 * file, or when a tensor's data does not have the bytes its shape needs.
 */
export async function writeSafetensorsFile(
  file: string,
  specs: readonly SafetensorsTensorSpec[],
  data: (index: number) => Promise<TensorData> | TensorData,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, byteLengths } = safetensorsHeader(specs, metadata);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'w');
  } catch (err) {
    throw new SoupError('WRITE_FAILED', `cannot create (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  }
  try {
    await writeAll(handle, header);
    for (let i = 0; i < specs.length; i++) {
      const values = await data(i);
      if (values.byteLength !== byteLengths[i]) {
        throw new SoupError('WRITE_FAILED', `tensor "${specs[i].name}" has ${values.byteLength} bytes, its shape [${specs[i].shape.join(', ')}] of ${specs[i].dtype} needs ${byteLengths[i]}`, file);
      }
      await writeAll(handle, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw new SoupError('WRITE_FAILED', `cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  } finally {
    await handle.close();
  }
}

/** FileHandle.write may write fewer bytes than asked; loop until all are written. */
async function writeAll(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(bytes.length - done, 1 << 28));
    done += bytesWritten;
  }
}
