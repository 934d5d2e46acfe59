/**
 * The values a restricted unpickler builds. Nothing here is ever a live Python object or a JS
 * function: a global that is not allowlisted is a {@link PyGlobal} name, and calling or
 * instantiating it gives an inert {@link PyOpaque} that only remembers which global it was.
 */

/** Any value on the pickle stack. */
export type PyValue =
  | null | boolean | number | bigint | string
  | PyBytes | PyList | PyTuple | PyDict | PySet | PyGlobal | PyOpaque | PyHostValue;

/** `bytes` / `bytearray`. */
export class PyBytes {
  constructor(readonly data: Uint8Array) {}
}

/** A Python list (mutable: APPEND / APPENDS add to it). */
export class PyList {
  readonly items: PyValue[] = [];
}

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict, OrderedDict or Counter. Keys compare as JS Map keys (strings and numbers by value). */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  /** Instance attributes set by BUILD (an OrderedDict state dict's `_metadata`). */
  attributes: PyValue = null;
  constructor(readonly kind: 'dict' | 'OrderedDict' | 'Counter' = 'dict') {}

  /** The value under a string key, if any. */
  get(key: string): PyValue | undefined {
    return this.map.get(key);
  }
}

/** A set or frozenset. */
export class PySet {
  readonly items: PyValue[] = [];
}

/** A reference to a global that is not allowlisted: only its name. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`, as Python spells it (`os.system`). */
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * The inert stand-in for what a non-allowlisted global would have produced: `call` for REDUCE
 * (a function call such as `os.system(...)`), `instance` for NEWOBJ (a user class such as a
 * Lightning `hyper_parameters` config object), `unsupported` for an allowlisted global whose
 * result this reader does not build (quantized or sparse tensors). Items and state given to it
 * by APPEND / SETITEM / BUILD are dropped.
 */
export class PyOpaque {
  constructor(readonly global: string, readonly how: 'call' | 'instance' | 'unsupported') {}
}

/** Values a resolver adds (torch storages, tensors, dtypes); `kind` tells them apart. */
export abstract class PyHostValue {
  abstract readonly kind: string;
}

/** Short description of a value for messages (never the whole value). */
export function describePy(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (v instanceof PyBytes) return `bytes[${v.data.length}]`;
  if (v instanceof PyList) return `list[${v.items.length}]`;
  if (v instanceof PyTuple) return `tuple[${v.items.length}]`;
  if (v instanceof PyDict) return `${v.kind}[${v.map.size}]`;
  if (v instanceof PySet) return `set[${v.items.length}]`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof PyOpaque) return v.how === 'call' ? `the result of calling ${v.global}` : `a ${v.global} object`;
  return v.kind;
}
