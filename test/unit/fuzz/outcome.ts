import * as assert from 'node:assert/strict';
import { SoupError } from '../../../src/engine/errors';
import type { SoupErrorCode } from '../../../src/engine/errors';

/** Every code of the SoupErrorCode union, checked against the type in both directions. */
export const SOUP_ERROR_CODES = [
  'FILE_NOT_FOUND', 'READ_FAILED', 'ONNX_INVALID', 'ONNX_UNSUPPORTED', 'NPY_INVALID', 'NPZ_INVALID',
  'SAFETENSORS_INVALID', 'ZIP_INVALID', 'CHECKPOINT_INVALID', 'CHECKPOINT_UNSAFE', 'GRAPH_UNMAPPED', 'METRICS_INVALID', 'CONFIG_INVALID', 'DATASET_MISMATCH', 'INCOMPATIBLE', 'NO_INGREDIENTS',
  'CANCELLED', 'WRITE_FAILED', 'INGREDIENT_CHANGED', 'EVALUATION_FAILED', 'TOO_LARGE',
] as const satisfies readonly SoupErrorCode[];
// Compile-time: fails to build if the union gains a code this list lacks.
const exhaustive: Exclude<SoupErrorCode, (typeof SOUP_ERROR_CODES)[number]> extends never ? true : false = true;
void exhaustive;

/** A typed error: a SoupError with a code of the union whose message names `file`. */
export function assertTypedError(err: unknown, file: string, codes?: readonly SoupErrorCode[]): asserts err is SoupError {
  if (!(err instanceof SoupError)) {
    throw new assert.AssertionError({ message: `expected a SoupError naming ${file}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` });
  }
  assert.ok((SOUP_ERROR_CODES as readonly string[]).includes(err.code), `code ${err.code} is not in the union`);
  if (codes) assert.ok(codes.includes(err.code), `expected code ${codes.join('|')}, got ${err.code}: ${err.message}`);
  assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
  assert.ok(err.problem.trim().length > 0, 'empty problem text');
}

/** Expects `fn` to reject with a typed error of `code` naming `file`, whose message matches `fragment`. */
export async function expectSoupError(fn: () => Promise<unknown> | unknown, code: SoupErrorCode, file: string, fragment: RegExp): Promise<SoupError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) assert.fail(`expected ${code} for ${file}, but it succeeded`);
  assertTypedError(caught, file, [code]);
  assert.match(caught.problem, fragment);
  return caught;
}

/** Rejects after `ms`: a parser that takes this long on a small input counts as a hang. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tally of a fuzz run: outcomes by kind, and the failures with their replay descriptions. */
export class FuzzTally {
  ok = 0;
  readonly errors = new Map<string, number>();
  readonly failures: string[] = [];

  constructor(readonly parser: string) {}

  get total(): number {
    return this.ok + [...this.errors.values()].reduce((a, b) => a + b, 0) + this.failures.length;
  }

  /** Records one outcome: success, a typed error naming `file`, or a failure. */
  async run(i: number, description: string, file: string, fn: () => Promise<unknown>, deadlineMs = 10_000): Promise<void> {
    try {
      await withDeadline(fn(), deadlineMs, `${this.parser} #${i}`);
      this.ok++;
    } catch (err) {
      try {
        assertTypedError(err, file);
        const code = (err as SoupError).code;
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
      } catch (why) {
        this.failures.push(`#${i} (${description}): ${(why as Error).message}`);
      }
    }
  }

  /** Fails the test when any mutation gave something other than a success or a typed error. */
  assertClean(): void {
    assert.deepEqual(this.failures.slice(0, 10), [], `${this.failures.length} of ${this.total} ${this.parser} mutations failed`);
  }

  summary(): string {
    const errs = [...this.errors.entries()].sort().map(([c, n]) => `${c} ${n}`).join(', ');
    return `${this.parser}: ${this.total} mutations, ${this.ok} parsed, errors: ${errs || 'none'}`;
  }
}
