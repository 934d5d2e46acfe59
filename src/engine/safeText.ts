// Text from files and folder names made safe to print: one line, no terminal control sequences.

// C0 controls, DEL, C1 controls, and the Unicode bidi/line controls a terminal or editor acts on.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text safe to print on a terminal or in one log line: every control character is shown as a
 * visible escape (`\n`, `\t`, `\x1b`, `\u202e`), so a folder name cannot move the cursor,
 * retitle or clear the terminal, or split a table row. Backslashes are kept as they are.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** A name or value as messages echo it: at most `max` characters (then `…`), control characters escaped. */
export function clipText(text: string, max = 64): string {
  return printable(text.length > max ? `${text.slice(0, max)}…` : text);
}
