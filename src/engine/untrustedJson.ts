/**
 * Helpers for JSON that comes from files the user may not have written (configs, metrics):
 * bounded nesting, and messages that never quote the file's content.
 */
import { clipText } from './safeText';

/** Nesting accepted in a config file; deeper is refused with a normal error, not a stack overflow. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `value` nests arrays/objects deeper than `max` levels. Iterative, so it works on
 * values nested far deeper than the call stack allows (JSON.parse accepts those).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Why JSON.parse failed, without the file's content: V8's messages quote the text around the
 * error (`Unexpected token 'r', "root:$6$…" is not valid JSON`), which would copy a secret
 * into a report. Only the position is kept, when V8 gives one.
 */
export function jsonSyntaxProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const position = /position (\d+)/.exec(message)?.[1];
  if (/Unexpected end of JSON input/.test(message)) return 'not valid JSON (it ends too early)';
  return position === undefined ? 'not valid JSON (syntax error)' : `not valid JSON (syntax error at character ${position})`;
}

/**
 * A value as an error message echoes it: JSON, cut to a short prefix (a 10 MB array is shown
 * as its first characters and its length), control characters escaped.
 */
export function echoValue(value: unknown, max = 60): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : '{…}';
  }
  return text.length > max ? `${clipText(text, max)} (${text.length} characters)` : clipText(text, max);
}
