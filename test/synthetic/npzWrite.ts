import { crc32 } from '../../src/engine/formats/npz';

/** An array to store in a `.npy`: its numpy dtype string (`<f4`, `<i8`, `|u1`, ...), shape and bytes. */
export interface NpyInput {
  descr: string;
  shape: number[];
  data: Uint8Array;
  fortran?: boolean;
}

/**
 * Encodes a `.npy` (format 1.0) exactly as numpy writes it: the header dict padded with spaces
 * to a multiple of 64 bytes and ended by a newline. Used to write evaluation sets (benchmark,
 * tests); the engine itself only reads them.
 */
export function encodeNpy(a: NpyInput): Buffer {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${a.descr}', 'fortran_order': ${a.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)]);
}

/** A stored (uncompressed) zip of the given entries, as `np.savez` writes; entries under 4 GiB. */
export function encodeNpz(entries: Record<string, Uint8Array>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A dataset file: float32 inputs `x` and int32 labels `y`, as an `.npz`. */
export function encodeDatasetNpz(x: { data: Float32Array; shape: number[] }, y: Int32Array): Buffer {
  return encodeNpz({
    'x.npy': encodeNpy({ descr: '<f4', shape: x.shape, data: new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength) }),
    'y.npy': encodeNpy({ descr: '<i4', shape: [y.length], data: new Uint8Array(y.buffer, y.byteOffset, y.byteLength) }),
  });
}
