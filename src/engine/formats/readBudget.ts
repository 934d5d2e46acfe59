import { SoupError } from '../errors';

/** Default memory budget of one dataset while it is loaded, in MiB (file + decoded arrays). */
export const DEFAULT_MAX_DATASET_MB = 2048;

/** How a user raises the budget; every TOO_LARGE message about a dataset ends with it. */
export const RAISE_BUDGET_HINT = 'raise it with --max-dataset-mb N on the command line or the modelSoups.maxDatasetMB setting';

/**
 * A memory budget for loading one dataset. Every buffer a reader allocates for it (the file's
 * bytes, each inflated archive member, the float32 inputs, the labels) is reserved here first,
 * from sizes the file declares, so a file that would exhaust memory is refused before anything
 * large is allocated.
 */
export class ReadBudget {
  private used = 0;

  constructor(readonly limitBytes: number) {}

  /** A budget of `mb` MiB. */
  static ofMegabytes(mb: number): ReadBudget {
    return new ReadBudget(mb * 1024 * 1024);
  }

  /** Bytes reserved so far. */
  get usedBytes(): number {
    return this.used;
  }

  /**
   * Reserves `bytes` for `what`; throws a TOO_LARGE SoupError naming `file` and saying how to
   * raise the budget when the total would exceed it.
   */
  reserve(bytes: number, what: string, file: string): void {
    if (!(bytes >= 0) || this.used + bytes > this.limitBytes) {
      throw new SoupError(
        'TOO_LARGE',
        `${what} needs ${mib(bytes)} MiB in memory (${mib(this.used)} MiB already in use for this dataset), over the dataset memory budget of ${mib(this.limitBytes)} MiB; ${RAISE_BUDGET_HINT}`,
        file,
      );
    }
    this.used += bytes;
  }
}

function mib(bytes: number): string {
  const v = bytes / 1024 / 1024;
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
