/**
 * A restricted pickle virtual machine: it decodes the opcodes of protocols 0-5 that data pickles
 * use and never imports, calls or executes anything. What globals, calls (REDUCE), NEWOBJ, BUILD
 * and persistent ids mean is decided by a {@link PickleResolver} (see torchPickle.ts for the
 * PyTorch allowlist, modelled on `torch/_weights_only_unpickler.py`).
 *
 * Bounded against hostile input: nesting of MARKs, memo ids (a Map, so a huge id costs nothing),
 * references to memo ids never stored, string and integer lengths past the end of the data,
 * very long integers, and opcodes it does not know are all refused with a {@link PickleError}.
 */
import { PyBytes, PyDict, PyGlobal, PyList, PyOpaque, PySet, PyTuple, type PyValue } from './pickleValues';

/** Why a pickle could not be read; the caller turns it into a SoupError naming the file. */
export class PickleError extends Error {
  constructor(message: string, readonly unsafe = false) {
    super(message);
    this.name = 'PickleError';
  }
}

/** What the restricted machine asks its user for. Any of these may throw a PickleError. */
export interface PickleResolver {
  /** GLOBAL / STACK_GLOBAL: an allowlisted value, or a {@link PyGlobal} placeholder. */
  global(module: string, name: string): PyValue;
  /** REDUCE: `fn(*args)`. */
  call(fn: PyValue, args: PyTuple): PyValue;
  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args)`. */
  newObject(cls: PyValue, args: PyTuple): PyValue;
  /** BUILD: sets `state` on `target`; returns the object that replaces it on the stack. */
  build(target: PyValue, state: PyValue): PyValue;
  /** BINPERSID / PERSID. */
  persistentLoad(pid: PyValue): PyValue;
}

/** Limits; the defaults are far above what real checkpoints use. */
export interface PickleLimits {
  /** Nested MARKs (default 1000). */
  maxMarkDepth?: number;
  /** Bytes of one LONG1/LONG4 integer (default 1024). */
  maxLongBytes?: number;
}

const PROTO = 0x80, STOP = 0x2e, MARK = 0x28, POP = 0x30, POP_MARK = 0x31, DUP = 0x32;
const NONE = 0x4e, NEWTRUE = 0x88, NEWFALSE = 0x89;
const INT = 0x49, BININT = 0x4a, BININT1 = 0x4b, BININT2 = 0x4d, LONG = 0x4c, LONG1 = 0x8a, LONG4 = 0x8b;
const FLOAT = 0x46, BINFLOAT = 0x47;
const STRING = 0x53, BINSTRING = 0x54, SHORT_BINSTRING = 0x55, UNICODE = 0x56, BINUNICODE = 0x58;
const SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES = 0x42, SHORT_BINBYTES = 0x43, BINBYTES8 = 0x8e, BYTEARRAY8 = 0x96;
const EMPTY_TUPLE = 0x29, TUPLE = 0x74, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87;
const EMPTY_LIST = 0x5d, LIST = 0x6c, APPEND = 0x61, APPENDS = 0x65;
const EMPTY_DICT = 0x7d, DICT = 0x64, SETITEM = 0x73, SETITEMS = 0x75;
const EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91;
const GLOBAL = 0x63, STACK_GLOBAL = 0x93, REDUCE = 0x52, BUILD = 0x62, NEWOBJ = 0x81, NEWOBJ_EX = 0x92;
const PERSID = 0x50, BINPERSID = 0x51;
const GET = 0x67, BINGET = 0x68, LONG_BINGET = 0x6a, PUT = 0x70, BINPUT = 0x71, LONG_BINPUT = 0x72, MEMOIZE = 0x94;
const FRAME = 0x95, READONLY_BUFFER = 0x98;

const NAMES: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x97: 'NEXT_BUFFER',
};

/**
 * Runs the pickle in `data` to its STOP and returns the top of the stack. Throws PickleError for
 * malformed or refused input (never anything else for any byte sequence).
 */
export function unpickle(data: Uint8Array, resolver: PickleResolver, limits: PickleLimits = {}): PyValue {
  const maxMarkDepth = limits.maxMarkDepth ?? 1000;
  const maxLongBytes = limits.maxLongBytes ?? 1024;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let pos = 0;
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();

  const fail = (problem: string): never => {
    throw new PickleError(`${problem} (at byte ${pos})`);
  };
  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > data.length) fail(`a length of ${n} bytes runs past the end of the pickle (${data.length} bytes)`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => data[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`a length of ${v} bytes is impossible`) : Number(v);
  };
  const bytes = (n: number): Uint8Array => data.subarray(need(n), pos);
  const text = (n: number): string => {
    const raw = bytes(n);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no end of line');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => (stack.length === 0 ? fail('stack underflow') : (stack.pop() as PyValue));
  const top = (): PyValue => (stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1]);
  const popMark = (): PyValue[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail('no MARK to pop to');
    stack = outer as PyValue[];
    return items;
  };
  const get = (id: number): PyValue => {
    const v = memo.get(id);
    return v === undefined ? fail(`memo id ${id} was never stored`) : v;
  };
  const put = (id: number): void => {
    memo.set(id, top());
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (target instanceof PyOpaque) return;
    if (!(target instanceof PyDict)) fail(`SETITEM on ${kindOf(target)}, not a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) (target as PyDict).map.set(items[i], items[i + 1]);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (target instanceof PyOpaque) return;
    if (target instanceof PyList || target instanceof PySet) pushAll(target.items, items);
    else fail(`APPEND on ${kindOf(target)}, not a list`);
  };
  const parseLong = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    if (raw.length > maxLongBytes) fail(`an integer of ${raw.length} bytes is over the limit of ${maxLongBytes}`);
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) v -= 1n << BigInt(8 * raw.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const decimal = (s: string, what: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d+$/.test(t) || t.length > 400) fail(`${what} argument ${JSON.stringify(s.slice(0, 40))} is not an integer`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  // Note: `stack` is reassigned by MARK/popMark, so every case pops the mark before `stack.push`
  // (JS reads `stack` before evaluating push's argument).
  for (;;) {
    if (pos >= data.length) fail('the pickle ends without STOP');
    const op = data[pos++];
    switch (op) {
      case PROTO: {
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is not supported (0-5)`);
        break;
      }
      case FRAME: u64(); break;
      case STOP: {
        if (marks.length > 0) fail('STOP inside an open MARK');
        return pop();
      }
      case MARK:
        if (marks.length >= maxMarkDepth) fail(`MARKs nested deeper than ${maxMarkDepth}`);
        marks.push(stack);
        stack = [];
        break;
      case POP: pop(); break;
      case POP_MARK: popMark(); break;
      case DUP: stack.push(top()); break;
      case NONE: stack.push(null); break;
      case NEWTRUE: stack.push(true); break;
      case NEWFALSE: stack.push(false); break;
      case BININT: stack.push(view.getInt32(need(4), true)); break;
      case BININT1: stack.push(u8()); break;
      case BININT2: stack.push(u16()); break;
      case INT: {
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : decimal(s, 'INT'));
        break;
      }
      case LONG: stack.push(decimal(line(), 'LONG')); break;
      case LONG1: stack.push(parseLong(bytes(u8()))); break;
      case LONG4: {
        const n = view.getInt32(need(4), true);
        if (n < 0) fail('LONG4 with a negative length');
        stack.push(parseLong(bytes(n)));
        break;
      }
      case FLOAT: {
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) fail(`FLOAT argument ${JSON.stringify(s.slice(0, 40))} is not a number`);
        stack.push(v);
        break;
      }
      case BINFLOAT: stack.push(view.getFloat64(need(8), false)); break;
      case SHORT_BINUNICODE: stack.push(text(u8())); break;
      case BINUNICODE: stack.push(text(u32())); break;
      case BINUNICODE8: stack.push(text(u64())); break;
      case UNICODE: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))); break;
      // Protocol-2 byte strings (Python 2 `str`): torch reads them as latin-1 text.
      case SHORT_BINSTRING: stack.push(latin1.decode(bytes(u8()))); break;
      case BINSTRING: {
        const n = view.getInt32(need(4), true);
        if (n < 0) fail('BINSTRING with a negative length');
        stack.push(latin1.decode(bytes(n)));
        break;
      }
      case STRING: {
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) fail('STRING argument is not quoted');
        stack.push(s.slice(1, -1));
        break;
      }
      case SHORT_BINBYTES: stack.push(new PyBytes(bytes(u8()))); break;
      case BINBYTES: stack.push(new PyBytes(bytes(u32()))); break;
      case BINBYTES8: case BYTEARRAY8: stack.push(new PyBytes(bytes(u64()))); break;
      case EMPTY_TUPLE: stack.push(new PyTuple([])); break;
      case TUPLE: { const t = new PyTuple(popMark()); stack.push(t); break; }
      case TUPLE1: { const a = pop(); stack.push(new PyTuple([a])); break; }
      case TUPLE2: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; }
      case TUPLE3: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; }
      case EMPTY_LIST: stack.push(new PyList()); break;
      case LIST: { const items = popMark(); const l = new PyList(); pushAll(l.items, items); stack.push(l); break; }
      case APPEND: { const v = pop(); appendItems(top(), [v]); break; }
      case APPENDS: { const items = popMark(); appendItems(top(), items); break; }
      case EMPTY_DICT: stack.push(new PyDict()); break;
      case DICT: { const items = popMark(); const d = new PyDict(); setItems(d, items); stack.push(d); break; }
      case SETITEM: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case SETITEMS: { const items = popMark(); setItems(top(), items); break; }
      case EMPTY_SET: stack.push(new PySet()); break;
      case ADDITEMS: { const items = popMark(); appendItems(top(), items); break; }
      case FROZENSET: { const items = popMark(); const s = new PySet(); pushAll(s.items, items); stack.push(s); break; }
      case GLOBAL: {
        const module = line();
        const name = line();
        stack.push(resolver.global(module, name));
        break;
      }
      case STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolver.global(module as string, name as string));
        break;
      }
      case REDUCE: {
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments are ${kindOf(args)}, not a tuple`);
        stack.push(resolver.call(fn, args as PyTuple));
        break;
      }
      case NEWOBJ: {
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail(`NEWOBJ arguments are ${kindOf(args)}, not a tuple`);
        stack.push(resolver.newObject(cls, args as PyTuple));
        break;
      }
      case NEWOBJ_EX: {
        pop(); // keyword arguments: no allowlisted class takes any
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail(`NEWOBJ_EX arguments are ${kindOf(args)}, not a tuple`);
        stack.push(resolver.newObject(cls, args as PyTuple));
        break;
      }
      case BUILD: {
        const state = pop();
        const target = pop();
        stack.push(resolver.build(target, state));
        break;
      }
      case BINPERSID: stack.push(resolver.persistentLoad(pop())); break;
      case PERSID: stack.push(resolver.persistentLoad(line())); break;
      case BINGET: stack.push(get(u8())); break;
      case LONG_BINGET: stack.push(get(u32())); break;
      case GET: stack.push(get(Number(decimal(line(), 'GET')))); break;
      case BINPUT: put(u8()); break;
      case LONG_BINPUT: put(u32()); break;
      case PUT: put(Number(decimal(line(), 'PUT'))); break;
      case MEMOIZE: put(memo.size); break;
      case READONLY_BUFFER: top(); break;
      default:
        fail(`pickle opcode ${NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} is not supported`);
    }
  }
}

// A loop, not push(...items): spreading a million items overflows the call stack.
function pushAll(into: PyValue[], items: readonly PyValue[]): void {
  for (const item of items) into.push(item);
}

function kindOf(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v !== 'object') return typeof v;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  return v.constructor.name;
}
