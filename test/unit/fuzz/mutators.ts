import type { Prng } from './prng';

/** One mutation applied to a valid input, described so a failure can be replayed by hand. */
export interface Mutation {
  bytes: Buffer;
  description: string;
}

/** Byte ranges `[start, end)` where mutations are concentrated (headers, structure). */
export type HotRanges = readonly (readonly [number, number])[];

/** Little-endian integer boundary values that trip length and offset arithmetic. */
const BOUNDARIES: readonly bigint[] = [
  0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n,
  0xfffffffen, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

/** A protobuf varint of any unsigned 64-bit value (bigint: boundary values past 2^53). */
export function varint(v: number | bigint): Buffer {
  const out: number[] = [];
  let x = BigInt(v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return Buffer.from(out);
}

function position(buf: Buffer, rng: Prng, hot: HotRanges | undefined): number {
  if (buf.length === 0) return 0;
  if (hot && hot.length > 0 && rng.chance(0.8)) {
    const [s, e] = rng.pick(hot);
    const end = Math.min(e, buf.length);
    if (end > s) return s + rng.int(end - s);
  }
  return rng.int(buf.length);
}

type Mutator = (buf: Buffer, rng: Prng, hot: HotRanges | undefined) => Mutation;

/** The binary mutators: bit flips, byte set/insert/delete, truncation, random splices, integer boundaries. */
export const BINARY_MUTATORS: Record<string, Mutator> = {
  bitFlip(buf, rng, hot) {
    const out = Buffer.from(buf);
    const flips = rng.range(1, 4);
    const at: number[] = [];
    for (let i = 0; i < flips && out.length > 0; i++) {
      const p = position(out, rng, hot);
      out[p] ^= 1 << rng.int(8);
      at.push(p);
    }
    return { bytes: out, description: `bit flips at ${at.join(',')}` };
  },
  byteSet(buf, rng, hot) {
    const out = Buffer.from(buf);
    if (out.length === 0) return { bytes: out, description: 'byte set (empty)' };
    const p = position(out, rng, hot);
    const v = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x7b, 0x7d, rng.int(256)]);
    out[p] = v;
    return { bytes: out, description: `byte ${p} := 0x${v.toString(16)}` };
  },
  insertBytes(buf, rng, hot) {
    const p = position(buf, rng, hot);
    const ins = rng.bytes(rng.range(1, 16));
    return { bytes: Buffer.concat([buf.subarray(0, p), ins, buf.subarray(p)]), description: `insert ${ins.length} bytes at ${p}` };
  },
  deleteBytes(buf, rng, hot) {
    const p = position(buf, rng, hot);
    const n = rng.range(1, 32);
    return { bytes: Buffer.concat([buf.subarray(0, p), buf.subarray(p + n)]), description: `delete ${n} bytes at ${p}` };
  },
  truncate(buf, rng, hot) {
    const p = rng.chance(0.5) ? position(buf, rng, hot) : rng.int(buf.length + 1);
    return { bytes: Buffer.from(buf.subarray(0, p)), description: `truncate to ${p} bytes` };
  },
  spliceRandom(buf, rng, hot) {
    const out = Buffer.from(buf);
    const p = position(out, rng, hot);
    const chunk = rng.bytes(Math.min(rng.range(2, 64), Math.max(0, out.length - p)));
    chunk.copy(out, p);
    return { bytes: out, description: `overwrite ${chunk.length} random bytes at ${p}` };
  },
  integerBoundary(buf, rng, hot) {
    const out = Buffer.from(buf);
    const width = rng.pick([1, 2, 4, 8]);
    const v = rng.pick(BOUNDARIES) & ((1n << BigInt(width * 8)) - 1n);
    const p = Math.min(position(out, rng, hot), Math.max(0, out.length - width));
    if (out.length >= width) {
      for (let i = 0; i < width; i++) out[p + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    }
    return { bytes: out, description: `u${width * 8} ${v} at ${p}` };
  },
  varintBoundary(buf, rng, hot) {
    const p = position(buf, rng, hot);
    const v = rng.pick(BOUNDARIES);
    // Replace the varint starting at p (or one byte) with the boundary value's encoding.
    let q = p;
    while (q < buf.length && buf[q] & 0x80) q++;
    const enc = varint(v);
    return { bytes: Buffer.concat([buf.subarray(0, p), enc, buf.subarray(Math.min(q + 1, buf.length))]), description: `varint ${v} at ${p}` };
  },
  duplicateChunk(buf, rng, hot) {
    const p = position(buf, rng, hot);
    const n = rng.range(1, 64);
    const chunk = buf.subarray(p, p + n);
    return { bytes: Buffer.concat([buf.subarray(0, p), chunk, buf.subarray(p)]), description: `duplicate ${chunk.length} bytes at ${p}` };
  },
};

/** Applies one to three random binary mutations. */
export function mutateBinary(buf: Buffer, rng: Prng, hot?: HotRanges): Mutation {
  const names = Object.keys(BINARY_MUTATORS);
  let bytes = buf;
  const parts: string[] = [];
  const rounds = rng.chance(0.7) ? 1 : rng.range(2, 3);
  for (let i = 0; i < rounds; i++) {
    const name = rng.pick(names);
    const m = BINARY_MUTATORS[name](bytes, rng, hot);
    bytes = m.bytes;
    parts.push(`${name}: ${m.description}`);
  }
  return { bytes, description: parts.join('; ') };
}

/** Tokens that break JSON/CSV/YAML readers in interesting ways. */
const TEXT_TOKENS = [
  'NaN', 'Infinity', '-Infinity', 'nan', 'inf', '-inf', '1e309', '-1', '2', '1.5', '0', '1', '"0.9"', 'null', 'true',
  '[]', '{}', '"', ',', ':', '{', '}', '[', ']', '\n', '\r\n', '""', '\\', '\u0000', '\ufeff', '&a', '*a', '!!python/object:x',
  '<<: *a', '- ', '  ', '#', '\'', '9'.repeat(400), '"' + 'x'.repeat(64) + '"', '__proto__', 'constructor',
];
const NUMBER = /[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/g;

/** Text mutators: numbers swapped for NaN/strings/huge values, tokens inserted, lines dropped, plus the binary ones. */
export function mutateText(text: string, rng: Prng): Mutation {
  const choice = rng.int(6);
  if (choice === 0) {
    const numbers = [...text.matchAll(NUMBER)];
    if (numbers.length > 0) {
      const m = rng.pick(numbers);
      const token = rng.pick(TEXT_TOKENS);
      const at = m.index ?? 0;
      return { bytes: Buffer.from(text.slice(0, at) + token + text.slice(at + m[0].length)), description: `number "${m[0]}" at ${at} -> ${JSON.stringify(token)}` };
    }
  }
  if (choice === 1) {
    const at = rng.int(text.length + 1);
    const token = rng.pick(TEXT_TOKENS);
    return { bytes: Buffer.from(text.slice(0, at) + token + text.slice(at)), description: `insert ${JSON.stringify(token)} at ${at}` };
  }
  if (choice === 2) {
    const lines = text.split('\n');
    const i = rng.int(lines.length);
    lines.splice(i, 1);
    return { bytes: Buffer.from(lines.join('\n')), description: `drop line ${i}` };
  }
  if (choice === 3) {
    const at = rng.int(text.length + 1);
    const n = rng.range(1, 12);
    return { bytes: Buffer.from(text.slice(0, at) + text.slice(at + n)), description: `delete ${n} chars at ${at}` };
  }
  return mutateBinary(Buffer.from(text), rng);
}
