import { SoupError } from '../errors';
import { parseNpy, type NpyArray } from './npy';
import { DEFAULT_MAX_DATASET_MB, ReadBudget } from './readBudget';
import { closeZip, openZip, readZipEntry } from './zipDirectory';
import { clipText } from '../safeText';

/** Options for {@link readNpz}. */
export interface ReadNpzOptions {
  /** Memory budget for the archive's members as they are read (default {@link DEFAULT_MAX_DATASET_MB} MiB). */
  budget?: ReadBudget;
  /** Checked between read and inflate chunks. */
  signal?: AbortSignal;
}

/**
 * Reads the named arrays from an `.npz` archive (a zip of `.npy` files, stored or deflated, as
 * written by `np.savez` / `np.savez_compressed`). Entries are looked up as `<name>.npy`; only
 * those are read (the zip directory is read with positioned reads, see `zipDirectory`).
 * Throws SoupError NPZ_INVALID for a broken zip, a missing entry, an entry name with `..` or an
 * absolute path, an unsupported compression, an entry that inflates beyond its declared size
 * or declares more than deflate can produce from its compressed bytes, or a CRC-32 mismatch;
 * TOO_LARGE when a member's declared size does not fit the budget (checked before allocating;
 * inflating stops at the declared size); READ_FAILED for anything but a regular file;
 * NPY_INVALID for a bad array inside.
 */
export async function readNpz(file: string, names: string[], opts: ReadNpzOptions = {}): Promise<Record<string, NpyArray>> {
  const budget = opts.budget ?? ReadBudget.ofMegabytes(DEFAULT_MAX_DATASET_MB);
  const zip = await openZip(file, { code: 'NPZ_INVALID', what: 'dataset file' });
  try {
    const out: Record<string, NpyArray> = {};
    for (const name of names) {
      const entry = zip.entries.get(`${name}.npy`);
      if (!entry) {
        const found = [...zip.entries.keys()].map((n) => clipText(n)).join(', ');
        throw new SoupError('NPZ_INVALID', `no array "${name}" in the archive (found: ${found || 'nothing'})`, file);
      }
      const bytes = await readZipEntry(zip, entry, { budget, signal: opts.signal });
      out[name] = parseNpy(bytes, `${file} [${name}.npy]`);
    }
    return out;
  } finally {
    await closeZip(zip);
  }
}
