import { promises as fsp } from 'node:fs';
import { SoupError } from '../errors';

/**
 * Reads a whole input file (a dataset, an array), turning fs errors into a SoupError that names
 * the file: FILE_NOT_FOUND for a missing one ("<what> not found"), READ_FAILED otherwise.
 */
export async function readInputFile(file: string, what: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SoupError('FILE_NOT_FOUND', `${what} not found`, file);
    throw new SoupError('READ_FAILED', `cannot read (${code ?? (err as Error).message})`, file);
  }
}
