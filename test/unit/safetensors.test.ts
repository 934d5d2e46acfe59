import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SoupError } from '../../src/engine/errors';
import {
  MAX_SAFETENSORS_HEADER_BYTES, SafetensorsError, readSafetensors, readSafetensorsHeader, readSafetensorsTensor,
} from '../../src/engine/formats/safetensors';
import type { SafetensorsFailure } from '../../src/engine/formats/safetensors';

const REPO = path.resolve(__dirname, '../../..');
const FT07 = path.join(REPO, 'examples/fashion-soup/runs/ft-07/model.safetensors');

const README_SHAPES: Record<string, number[]> = {
  'conv1.weight': [16, 1, 3, 3],
  'conv1.bias': [16],
  'conv2.weight': [32, 16, 3, 3],
  'conv2.bias': [32],
  'fc1.weight': [64, 1568],
  'fc1.bias': [64],
  'fc2.weight': [10, 64],
  'fc2.bias': [10],
};

/** Builds a safetensors file from a header (object or raw text) and a data region. */
function build(header: unknown, data: Uint8Array, declaredLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

describe('safetensors reader', () => {
  let tmp: string;
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-safetensors-'));
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  let counter = 0;
  async function file(bytes: Buffer): Promise<string> {
    const p = path.join(tmp, `t${counter++}.safetensors`);
    await fsp.writeFile(p, bytes);
    return p;
  }

  async function expectFailure(bytes: Buffer, kind: SafetensorsFailure, message: RegExp): Promise<void> {
    const p = await file(bytes);
    await assert.rejects(readSafetensorsHeader(p), (err: unknown) => {
      assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${String(err)}`);
      assert.ok(err instanceof SoupError);
      assert.equal(err.code, 'SAFETENSORS_INVALID');
      assert.equal(err.kind, kind);
      assert.equal(err.file, p);
      assert.ok(err.message.startsWith(`${p}: `));
      assert.match(err.problem, message);
      return true;
    });
  }

  it('reads the 8 tensors of the real ft-07 file with the README shapes', async () => {
    const header = await readSafetensorsHeader(FT07);
    assert.deepEqual(header.metadata, { format: 'pt' });
    assert.equal(header.dataStart % 8, 0, 'header is padded to a multiple of 8');
    assert.deepEqual(Object.fromEntries(header.tensors.map((t) => [t.name, t.shape])), README_SHAPES);
    assert.deepEqual(header.tensors.map((t) => t.name), Object.keys(README_SHAPES).sort(), 'file order = sorted names');

    const { tensors } = await readSafetensors(FT07);
    assert.equal(tensors.length, 8);
    let params = 0;
    for (const t of tensors) {
      assert.equal(t.dtype, 'F32');
      assert.ok(t.data instanceof Float32Array);
      assert.equal(t.data.length, README_SHAPES[t.name].reduce((a, b) => a * b, 1));
      assert.ok((t.data as Float32Array).every(Number.isFinite), `${t.name} finite`);
      params += t.data.length;
    }
    assert.equal(params, 105_866);
    const one = await readSafetensorsTensor(header, 'fc2.bias');
    assert.deepEqual(Array.from(one.data as Float32Array), Array.from(tensors.find((t) => t.name === 'fc2.bias')!.data as Float32Array));
  });

  it('reads a subset by name, and every dtype as its typed array', async () => {
    const data = new Uint8Array(8 + 4 + 2 + 1);
    new DataView(data.buffer).setFloat64(0, 1.5, true);
    new DataView(data.buffer).setInt32(8, -7, true);
    const p = await file(build({
      a: { dtype: 'F64', shape: [], data_offsets: [0, 8] },
      b: { dtype: 'I32', shape: [1], data_offsets: [8, 12] },
      c: { dtype: 'BF16', shape: [1, 1], data_offsets: [12, 14] },
      d: { dtype: 'BOOL', shape: [1], data_offsets: [14, 15] },
      e: { dtype: 'U8', shape: [0], data_offsets: [15, 15] },
    }, data));
    const { tensors } = await readSafetensors(p);
    assert.deepEqual(tensors.map((t) => t.data.constructor.name), ['Float64Array', 'Int32Array', 'Uint16Array', 'Uint8Array', 'Uint8Array']);
    assert.equal(tensors[0].data[0], 1.5);
    assert.equal(tensors[1].data[0], -7);
    assert.deepEqual((await readSafetensors(p, ['b'])).tensors.map((t) => t.name), ['b']);
  });

  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]): unknown => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  it('rejects a file shorter than the length prefix', () => expectFailure(Buffer.from([1, 2, 3]), 'file-too-small', /^file is 3 bytes/));

  it('rejects a header length past the end of the file', () =>
    expectFailure(build({ a: f32(0, 4) }, new Uint8Array(4), 1000n), 'header-past-end', /^header length 1000 runs past the end of the file \(\d+ bytes\)$/));

  it('rejects a header length over the cap', () =>
    expectFailure(build({}, new Uint8Array(0), BigInt(MAX_SAFETENSORS_HEADER_BYTES) + 1n), 'header-too-large', /exceeds the limit of 100000000 bytes/));

  it('rejects a u64 header length beyond 2^53', () =>
    expectFailure(build({}, new Uint8Array(0), 0xffff_ffff_ffff_ffffn), 'header-too-large', /^header length 18446744073709551615 exceeds/));

  it('rejects offsets out of range', () =>
    expectFailure(build({ a: f32(0, 8) }, new Uint8Array(4)), 'offsets-out-of-range', /^tensor "a": data_offsets \[0, 8\] run past the end of the data region \(4 bytes\)$/));

  it('rejects overlapping tensors', () =>
    expectFailure(build({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)), 'offsets-overlap', /^tensor "b": data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]$/));

  it('rejects a gap between tensors', () =>
    expectFailure(build({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)), 'offsets-gap', /^bytes \[4, 8\) of the data region belong to no tensor$/));

  it('rejects trailing bytes after the last tensor', () =>
    expectFailure(build({ a: f32(0, 4) }, new Uint8Array(8)), 'offsets-gap', /^bytes \[4, 8\) of the data region/));

  it('rejects an unknown dtype', () =>
    expectFailure(build({ a: { dtype: 'F12', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'unknown-dtype', /^tensor "a": unknown dtype "F12" \(known: F64, F32/));

  it('rejects a shape whose size does not match the byte length', () =>
    expectFailure(build({ a: f32(0, 8, [3]) }, new Uint8Array(8)), 'size-mismatch', /^tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets span 8$/));

  it('rejects an invalid JSON header', () =>
    expectFailure(build('{"a": {', new Uint8Array(0)), 'header-not-json', /^header is not valid UTF-8 JSON/));

  it('rejects a header that is not valid UTF-8', () =>
    expectFailure(Buffer.concat([build('{}', new Uint8Array(0), 3n), Buffer.from([0xff])]), 'header-not-json', /UTF-8/));

  it('rejects a JSON header that is not an object', () => expectFailure(build('[1]', new Uint8Array(0)), 'header-not-object', /not a JSON object/));

  it('rejects non-string metadata', () =>
    expectFailure(build({ __metadata__: { format: 1 } }, new Uint8Array(0)), 'metadata-invalid', /^__metadata__ must map strings to strings$/));

  it('rejects malformed tensor entries, shapes and offsets', async () => {
    await expectFailure(build({ a: { dtype: 'F32', shape: [1] } }, new Uint8Array(0)), 'tensor-entry-invalid', /^tensor "a": expected/);
    await expectFailure(build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'shape-invalid', /non-negative integers/);
    await expectFailure(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), 'offsets-invalid', /begin <= end/);
  });

  it('reports a missing file as FILE_NOT_FOUND', async () => {
    await assert.rejects(readSafetensorsHeader(path.join(tmp, 'missing.safetensors')), (err: unknown) => err instanceof SoupError && err.code === 'FILE_NOT_FOUND');
  });
});
