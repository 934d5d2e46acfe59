/**
 * Hand-written `torch.save` archives for tests (no PyTorch needed): a protocol-2 pickle shaped
 * like the one torch.save writes (OrderedDict of `_rebuild_tensor_v2` calls over persistent-id
 * storages) and the zip around it (`<archive>/data.pkl`, `data/<key>`, `byteorder`, `version`).
 */
import { encodeZip } from '../fuzz/builders';

/** One tensor: a view of storage `key` (dtype from the storage) at `offset` with `shape`/`stride`. */
export interface TensorSpec {
  name: string;
  key: string;
  offset: number;
  shape: number[];
  stride: number[];
}

/** One storage: its torch type name (`FloatStorage`, ...), element count and bytes. */
export interface StorageSpec {
  key: string;
  type: string;
  numel: number;
  bytes: Uint8Array;
}

/** Pickle opcode writer (protocol 2): enough for torch.save-shaped pickles and hostile ones. */
export class PickleWriter {
  private readonly parts: Buffer[] = [Buffer.from([0x80, 0x02])];

  raw(...bytes: (number | Buffer)[]): this {
    for (const b of bytes) this.parts.push(typeof b === 'number' ? Buffer.from([b]) : b);
    return this;
  }
  str(s: string): this {
    const body = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(body.length);
    return this.raw(0x58, len, body);
  }
  int(n: number): this {
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      return this.raw(0x4a, b);
    }
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return this.raw(0x8a, 8, b); // LONG1
  }
  global(module: string, name: string): this {
    return this.raw(0x63, Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  mark(): this { return this.raw(0x28); }
  tuple(): this { return this.raw(0x74); }
  emptyTuple(): this { return this.raw(0x29); }
  reduce(): this { return this.raw(0x52); }
  setItems(): this { return this.raw(0x75); }
  emptyDict(): this { return this.raw(0x7d); }
  bytes(): Buffer { return Buffer.concat([...this.parts, Buffer.from([0x2e])]); }
  /** Body without PROTO header and STOP, for splicing. */
  body(): Buffer { return Buffer.concat(this.parts.slice(1)); }

  /** `OrderedDict()` */
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').emptyTuple().reduce();
  }

  /** `_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())` */
  tensor(t: TensorSpec, storages: readonly StorageSpec[]): this {
    const s = storages.find((x) => x.key === t.key);
    if (!s) throw new Error(`no storage ${t.key}`);
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', s.type).str(s.key).str('cpu').int(s.numel).tuple().raw(0x51);
    this.int(t.offset);
    this.mark();
    for (const d of t.shape) this.int(d);
    this.tuple().mark();
    for (const d of t.stride) this.int(d);
    this.tuple().raw(0x89).orderedDict().tuple().reduce();
    return this;
  }

  /** An OrderedDict state dict of `tensors`. */
  stateDict(tensors: readonly TensorSpec[], storages: readonly StorageSpec[]): this {
    this.orderedDict().mark();
    for (const t of tensors) this.str(t.name).tensor(t, storages);
    return this.setItems();
  }
}

/** A torch.save zip around `pickle` with the storages' bytes (stored, any archive folder name). */
export function torchZip(pickle: Buffer, storages: readonly StorageSpec[], archive = 'archive', byteorder: string | undefined = 'little'): Buffer {
  return encodeZip([
    { name: `${archive}/data.pkl`, data: pickle },
    ...(byteorder === undefined ? [] : [{ name: `${archive}/byteorder`, data: Buffer.from(byteorder) }]),
    ...storages.map((s) => ({ name: `${archive}/data/${s.key}`, data: Buffer.from(s.bytes) })),
    { name: `${archive}/version`, data: Buffer.from('3\n') },
  ]);
}

/** float32 little-endian bytes. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
