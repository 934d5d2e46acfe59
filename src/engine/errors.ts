/**
 * Every failure the engine reports to a user. Engine code never prints: it throws a
 * {@link SoupError}, and the CLI or the VS Code layer shows `message`, which always names the
 * file (when there is one) and the problem.
 */
export type SoupErrorCode =
  | 'FILE_NOT_FOUND'
  | 'READ_FAILED'
  | 'ONNX_INVALID'
  | 'ONNX_UNSUPPORTED'
  | 'NPY_INVALID'
  | 'NPZ_INVALID'
  | 'SAFETENSORS_INVALID'
  | 'ZIP_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_UNSAFE'
  | 'GRAPH_UNMAPPED'
  | 'METRICS_INVALID'
  | 'CONFIG_INVALID'
  | 'DATASET_MISMATCH'
  | 'INCOMPATIBLE'
  | 'NO_INGREDIENTS'
  | 'CANCELLED'
  | 'WRITE_FAILED'
  | 'INGREDIENT_CHANGED'
  | 'EVALUATION_FAILED'
  | 'TOO_LARGE';

/** A typed engine error. `file` is the absolute path of the offending file, if any. */
export class SoupError extends Error {
  constructor(
    readonly code: SoupErrorCode,
    readonly problem: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${problem}` : problem);
    this.name = 'SoupError';
  }
}

/** True for errors raised because the caller's AbortSignal fired. */
export function isCancelled(err: unknown): boolean {
  return err instanceof SoupError && err.code === 'CANCELLED';
}

/** Throws a CANCELLED SoupError when `signal` has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
}

/** Short text of any thrown value, for logs and messages. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
