/**
 * Ends an exhaustive `switch` over a discriminated union: adding a message kind without
 * handling it becomes a compile error instead of a silently ignored message.
 */
export function assertNever(value: never, context = 'value'): never {
  throw new Error(`unexpected ${context}: ${JSON.stringify(value)}`);
}
