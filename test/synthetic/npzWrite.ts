import { crc32 } from '../../src/engine/formats/crc32';

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

/** What a zip entry's local header and its central-directory record both declare. */
export interface ZipHeaderFields {
  /** Version needed to extract (20; 45 for Zip64). */
  version: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  nameLength: number;
}

/** A zip local header (30 bytes, sizes as given: 0xffffffff defers them to a Zip64 extra of `extraLength` bytes). */
export function zipLocalHeader(f: ZipHeaderFields, extraLength = 0): Buffer {
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(f.version, 4);
  local.writeUInt16LE(f.method, 8);
  local.writeUInt32LE(f.crc, 14);
  local.writeUInt32LE(f.compressedSize, 18);
  local.writeUInt32LE(f.size, 22);
  local.writeUInt16LE(f.nameLength, 26);
  local.writeUInt16LE(extraLength, 28);
  return local;
}

/** A central-directory record (46 bytes) of an entry whose local header is at `offset`. */
export function zipCentralHeader(f: ZipHeaderFields, offset: number): Buffer {
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(f.version, 4);
  // From "version needed" to the name length the record repeats the local header (no extra here).
  zipLocalHeader(f).copy(central, 6, 4, 30);
  central.writeUInt32LE(offset, 42);
  return central;
}

/** The end-of-central-directory record: `count` entries, a directory of `cdLength` bytes at `cdOffset`. */
export function zipEnd(count: number, cdLength: number, cdOffset: number): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cdLength, 12);
  end.writeUInt32LE(cdOffset, 16);
  return end;
}

/** A stored (uncompressed) zip of the given entries, as `np.savez` writes; entries under 4 GiB. */
export function encodeNpz(entries: Record<string, Uint8Array>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBuf = Buffer.from(name);
    const fields = { version: 20, method: 0, crc: crc32(data), compressedSize: data.length, size: data.length, nameLength: nameBuf.length };
    locals.push(zipLocalHeader(fields), nameBuf, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    centrals.push(zipCentralHeader(fields, offset), nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  return Buffer.concat([...locals, cd, zipEnd(centrals.length / 2, cd.length, offset)]);
}

/** A dataset file: float32 inputs `x` and int32 labels `y`, as an `.npz`. */
export function encodeDatasetNpz(x: { data: Float32Array; shape: number[] }, y: Int32Array): Buffer {
  return encodeNpz({
    'x.npy': encodeNpy({ descr: '<f4', shape: x.shape, data: new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength) }),
    'y.npy': encodeNpy({ descr: '<i4', shape: [y.length], data: new Uint8Array(y.buffer, y.byteOffset, y.byteLength) }),
  });
}
