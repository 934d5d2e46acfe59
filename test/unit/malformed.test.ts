/**
 * Targeted malformed inputs, one per failure kind of each reader, with the expected error code
 * and a fragment of the message. Binary formats and the config throw a SoupError naming the
 * file; run readers (metrics) never throw and put the reason, naming the file, in the record.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { readHfTrainerRun } from '../../src/engine/discovery/hfTrainer';
import { parseHParamsYaml, readLightningRun } from '../../src/engine/discovery/lightning';
import { listRunFolder, readPlainRun } from '../../src/engine/discovery/plainRun';
import type { RunFolder } from '../../src/engine/discovery/plainRun';
import { SoupError } from '../../src/engine/errors';
import { loadDataset } from '../../src/engine/evaluate/dataset';
import { parseNpy } from '../../src/engine/formats/npy';
import { readNpz } from '../../src/engine/formats/npz';
import { ReadBudget } from '../../src/engine/formats/readBudget';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { readSafetensors } from '../../src/engine/formats/safetensors';
import { loadWeights } from '../../src/engine/soups/weights';
import { encodeNpy, encodeZip, smallDataset, smallSafetensors } from './fuzz/builders';
import { varint } from './fuzz/mutators';
import { assertTypedError, expectSoupError } from './fuzz/outcome';

const REPO = path.resolve(__dirname, '../../..');
const ZOO = path.join(REPO, 'examples/fashion-soup');
const REAL_MODEL = path.join(ZOO, 'sweep-a02/model.onnx');

const F4 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer);

describe('malformed inputs: each reader names the file and the problem', () => {
  let tmp: string;
  let counter = 0;
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-malformed-'));
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });
  async function write(name: string, bytes: Buffer | string): Promise<string> {
    const dir = path.join(tmp, `c${counter++}`);
    await fsp.mkdir(dir, { recursive: true });
    const p = path.join(dir, name);
    await fsp.writeFile(p, bytes);
    return p;
  }

  describe('.npy', () => {
    const ok = encodeNpy({ descr: '<f4', shape: [2, 3], data: F4(6) });
    const cases: [string, Buffer, RegExp][] = [
      ['bad magic', Buffer.concat([Buffer.from('XNUMPY'), ok.subarray(6)]), /bad magic/],
      ['too short for a header', ok.subarray(0, 8), /bad magic/],
      ['unknown version', Buffer.concat([ok.subarray(0, 6), Buffer.from([4, 0]), ok.subarray(8)]), /unsupported \.npy format version 4\.0/],
      ['v2 cut inside the length', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), version: 2 }).subarray(0, 11), /truncated \.npy header/],
      ['header length past the end', (() => { const b = Buffer.from(ok); b.writeUInt16LE(0xffff, 8); return b; })(), /header length 65535 runs past the end/],
      ['v2 header length of 4 GiB', (() => { const b = encodeNpy({ descr: '<f4', shape: [1], data: F4(1), version: 2 }); b.writeUInt32LE(0xffffffff, 8); return b; })(), /header length 4294967295/],
      ['header without shape', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), header: "{'descr': '<f4', 'fortran_order': False}" }), /malformed \.npy header/],
      ['header that is not a dict', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), header: 'garbage' }), /malformed \.npy header/],
      ['Fortran order', encodeNpy({ descr: '<f4', shape: [2, 3], data: F4(6), fortran: true }), /Fortran-order/],
      ['object dtype', encodeNpy({ descr: '|O', shape: [1], data: new Uint8Array(8) }), /unsupported dtype "\|O"/],
      ['complex dtype', encodeNpy({ descr: '<c8', shape: [1], data: new Uint8Array(8) }), /unsupported dtype "<c8"/],
      ['structured dtype', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }" }), /malformed|unsupported dtype/],
      ['big-endian float', encodeNpy({ descr: '>f4', shape: [1], data: F4(1) }), /big-endian/],
      ['negative dimension', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }" }), /malformed shape/],
      ['absurd dimensions', encodeNpy({ descr: '<f4', shape: [1], data: F4(1), header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }" }), /truncated data/],
      ['truncated data', ok.subarray(0, ok.length - 5), /truncated data: shape \(2, 3\) of <f4 needs 24 bytes, found 19/],
      ['trailing bytes', Buffer.concat([ok, Buffer.alloc(4)]), /4 bytes of data beyond shape/],
    ];
    for (const [what, bytes, fragment] of cases) {
      it(`rejects ${what} with NPY_INVALID`, async () => {
        await expectSoupError(() => parseNpy(bytes, '/data/a.npy'), 'NPY_INVALID', '/data/a.npy', fragment);
      });
    }
    it('reads versions 1.0, 2.0 and 3.0 of a valid array', () => {
      for (const version of [1, 2, 3]) {
        const a = parseNpy(encodeNpy({ descr: '<f4', shape: [2, 3], data: F4(6), version }), 'a.npy');
        assert.deepEqual(a.shape, [2, 3]);
        assert.equal(a.data.length, 24);
      }
    });
  });

  describe('.npz', () => {
    const x = encodeNpy({ descr: '<f4', shape: [4, 2, 3], data: F4(24) });
    const y = encodeNpy({ descr: '<i8', shape: [4], data: new Uint8Array(32) });

    it('reads a valid stored and deflated archive', async () => {
      for (const deflate of [false, true]) {
        const arrays = await readNpz(await write('d.npz', smallDataset(4, deflate)), ['x', 'y']);
        assert.deepEqual(arrays.x.shape, [4, 2, 3]);
        assert.deepEqual(arrays.y.shape, [4]);
      }
    });
    it('rejects a file that is not a zip', async () => {
      const f = await write('d.npz', 'just text, no zip here');
      await expectSoupError(() => readNpz(f, ['x']), 'NPZ_INVALID', f, /not a zip archive/);
    });
    it('rejects an empty file', async () => {
      const f = await write('d.npz', '');
      await expectSoupError(() => readNpz(f, ['x']), 'NPZ_INVALID', f, /not a zip archive/);
    });
    it('rejects a truncated archive', async () => {
      const whole = smallDataset(4, true);
      for (const cut of [whole.length - 1, whole.length - 30, Math.floor(whole.length / 2), 40]) {
        const f = await write('d.npz', whole.subarray(0, cut));
        await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /not a zip archive|truncated|corrupt/);
      }
    });
    it('names a missing x or y and lists what the archive holds', async () => {
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x }, { name: 'labels.npy', data: y }]));
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /no array "y" in the archive \(found: x\.npy, labels\.npy\)/);
      await expectSoupError(() => loadDataset('test', path.basename(f), path.dirname(f), 1), 'NPZ_INVALID', f, /no array "y"/);
    });
    it('refuses entries with a parent or absolute path', async () => {
      for (const name of ['../x.npy', 'a/../../x.npy', '/etc/x.npy', '\\x.npy', 'C:/x.npy', 'a\\..\\x.npy']) {
        const f = await write('d.npz', encodeZip([{ name, data: x }, { name: 'y.npy', data: y }]));
        await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /absolute or parent path; refused/);
      }
    });
    it('refuses an entry declaring more bytes than the memory budget, before inflating it, and says how to raise it', async () => {
      // 2 MiB of zeros deflate to a few KB: a declared size deflate can reach, over a 1 MiB budget.
      const big = Buffer.concat([encodeNpy({ descr: '|u1', shape: [2 * 2 ** 20], data: new Uint8Array(0) }), Buffer.alloc(2 * 2 ** 20)]);
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: big, deflate: true }, { name: 'y.npy', data: y }]));
      await expectSoupError(() => readNpz(f, ['x', 'y'], { budget: ReadBudget.ofMegabytes(1) }), 'TOO_LARGE', f, /archive member "x\.npy" \(\d+ bytes declared\) needs 2\.0 MiB.*budget of 1\.0 MiB; raise it with --max-dataset-mb/);
    });
    it('refuses a declared size that deflate cannot reach from the compressed bytes (a lie or a bomb)', async () => {
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x, deflate: true, declaredSize: 0xfffffff0 }, { name: 'y.npy', data: y }]));
      const err = await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /declares 4294967280 bytes uncompressed/);
      assert.match(err.problem, /x\.npy/);
    });
    it('stops a real zip bomb at its declared size: 64 MiB of zeros declared as 1 KiB', async () => {
      const bomb = Buffer.concat([encodeNpy({ descr: '|u1', shape: [64 * 2 ** 20], data: new Uint8Array(0) }), Buffer.alloc(64 * 2 ** 20)]);
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: bomb, deflate: true, declaredSize: 1024 }, { name: 'y.npy', data: y }]));
      assert.ok((await fsp.stat(f)).size < 200_000, 'the bomb file is small');
      const before = process.memoryUsage().rss;
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /inflates beyond its declared 1024 bytes; refused/);
      assert.ok(process.memoryUsage().rss - before < 48 * 2 ** 20, 'did not inflate the whole bomb');
    });
    it('refuses an entry that inflates to less than it declares', async () => {
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x, deflate: true, declaredSize: x.length + 10 }, { name: 'y.npy', data: y }]));
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /inflated to \d+ bytes, declared/);
    });
    it('refuses an unknown compression method and disagreeing stored sizes', async () => {
      let f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x, method: 12 }, { name: 'y.npy', data: y }]));
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /unsupported compression method 12/);
      f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x, declaredSize: x.length + 1 }, { name: 'y.npy', data: y }]));
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /stored entry sizes disagree/);
    });
    it('refuses a corrupt deflate stream', async () => {
      const whole = encodeZip([{ name: 'x.npy', data: x, deflate: true }, { name: 'y.npy', data: y }]);
      const bad = Buffer.from(whole);
      bad.fill(0xff, 30 + 5 + 20, 30 + 5 + 20 + 8);
      const f = await write('d.npz', bad);
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /cannot inflate|inflated to|inflates beyond|CRC/);
    });
    it('detects a flipped byte in stored array data by its CRC-32', async () => {
      const whole = encodeZip([{ name: 'x.npy', data: x }, { name: 'y.npy', data: y }]);
      const bad = Buffer.from(whole);
      bad[30 + 5 + 20 + x.length - 2] ^= 0x40; // inside x's float data: a valid array, wrong values
      const f = await write('d.npz', bad);
      await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPZ_INVALID', f, /CRC-32 mismatch/);
    });
    it('refuses a Zip64 extra field that runs past the end of the file', async () => {
      // A central directory entry whose extra block ends at the end of the file, with a Zip64
      // field header in its last 4 bytes: the 8-byte size it promises is not there.
      const good = encodeZip([{ name: 'x.npy', data: x }]);
      const cdOffset = good.readUInt32LE(good.length - 6);
      const local = good.subarray(0, cdOffset);
      const central = Buffer.from(good.subarray(cdOffset, good.length - 22));
      central.writeUInt32LE(0xffffffff, 24); // size: look in the Zip64 extra
      const eocd = Buffer.alloc(22);
      eocd.writeUInt32LE(0x06054b50, 0);
      eocd.writeUInt16LE(1, 8);
      eocd.writeUInt16LE(1, 10);
      eocd.writeUInt32LE(central.length, 12);
      eocd.writeUInt32LE(cdOffset, 16);
      // extra = [id 0x9999, len 22][22 bytes: the EOCD][id 0x0001, len 16]
      const extra = Buffer.concat([Buffer.from([0x99, 0x99, 22, 0]), eocd, Buffer.from([1, 0, 16, 0])]);
      central.writeUInt16LE(extra.length, 30);
      const f = await write('d.npz', Buffer.concat([local, central, extra]));
      await expectSoupError(() => readNpz(f, ['x']), 'NPZ_INVALID', f, /Zip64|corrupt|runs past/);
    });
    it('names the archive and the entry for a bad array inside', async () => {
      const f = await write('d.npz', encodeZip([{ name: 'x.npy', data: encodeNpy({ descr: '<f4', shape: [4, 2, 3], data: F4(24), fortran: true }) }, { name: 'y.npy', data: y }]));
      const err = await expectSoupError(() => readNpz(f, ['x', 'y']), 'NPY_INVALID', f, /Fortran-order/);
      assert.match(err.message, /\[x\.npy\]/);
    });
    it('reports a missing dataset file as FILE_NOT_FOUND and a folder as READ_FAILED', async () => {
      const missing = path.join(tmp, 'nope.npz');
      await expectSoupError(() => readNpz(missing, ['x']), 'FILE_NOT_FOUND', missing, /not found/);
      await expectSoupError(() => readNpz(tmp, ['x']), 'READ_FAILED', tmp, /is a folder, not a regular file/);
    });
    it('rejects datasets whose x and y disagree or have the wrong dtype', async () => {
      let f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x }, { name: 'y.npy', data: encodeNpy({ descr: '<i8', shape: [3], data: new Uint8Array(24) }) }]));
      await expectSoupError(() => loadDataset('test', path.basename(f), path.dirname(f), 1), 'DATASET_MISMATCH', f, /y has shape \(3\) but x has 4 examples/);
      f = await write('d.npz', encodeZip([{ name: 'x.npy', data: x }, { name: 'y.npy', data: encodeNpy({ descr: '<f4', shape: [4], data: F4(4) }) }]));
      await expectSoupError(() => loadDataset('test', path.basename(f), path.dirname(f), 1), 'DATASET_MISMATCH', f, /y has dtype f4; expected integer class labels/);
      f = await write('d.npz', encodeZip([{ name: 'x.npy', data: encodeNpy({ descr: '<i4', shape: [4, 2], data: new Uint8Array(32) }) }, { name: 'y.npy', data: y }]));
      await expectSoupError(() => loadDataset('test', path.basename(f), path.dirname(f), 1), 'DATASET_MISMATCH', f, /x has dtype i4/);
    });
  });

  describe('safetensors (full coverage in safetensors.test.ts)', () => {
    it('reads the small fuzz seed file and rejects it truncated', async () => {
      const good = smallSafetensors();
      const { tensors } = await readSafetensors(await write('m.safetensors', good));
      assert.deepEqual(tensors.map((t) => t.name), ['fc.weight', 'fc.bias', 'steps']);
      const f = await write('m.safetensors', good.subarray(0, good.length - 3));
      await expectSoupError(() => readSafetensors(f), 'SAFETENSORS_INVALID', f, /belong to no tensor|run past the end/);
    });
  });

  describe('ONNX', () => {
    let model: Buffer;
    before(async () => {
      model = await fsp.readFile(REAL_MODEL);
    });

    it('rejects an empty file, random bytes and a text file', async () => {
      let f = await write('model.onnx', '');
      await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /empty file/);
      const rnd = Buffer.alloc(4096);
      let s = 7;
      for (let i = 0; i < rnd.length; i++) rnd[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
      f = await write('model.onnx', rnd);
      await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /./);
      f = await write('model.onnx', 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 425138\n');
      await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /./);
    });
    it('rejects the real model truncated at any of 40 points', async () => {
      const f = path.join(tmp, 'trunc.onnx');
      for (let k = 1; k <= 40; k++) {
        const cut = Math.floor((model.length * k) / 41);
        await fsp.writeFile(f, model.subarray(0, cut));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /truncated|past the end|overrun|no graph|no ir_version|not a valid/);
      }
    });
    it('reports a missing model as READ_FAILED naming it', async () => {
      const f = path.join(tmp, 'missing.onnx');
      await expectSoupError(() => readOnnxModel(f), 'READ_FAILED', f, /ENOENT/);
    });

    describe('crafted weights', () => {
      /** A model whose graph holds one float initializer built from `tensorFields`. */
      function craft(tensorFields: Buffer[]): Buffer {
        const tensor = Buffer.concat(tensorFields);
        const graph = Buffer.concat([tag(5, 2), varint(tensor.length), tensor]);
        return Buffer.concat([tag(1, 0), varint(8), tag(7, 2), varint(graph.length), graph]);
      }
      const dims = (...ds: (number | bigint)[]) => ds.map((d) => Buffer.concat([tag(1, 0), varint(BigInt(d))]));
      const float = Buffer.concat([tag(2, 0), varint(1)]);
      const name = Buffer.concat([tag(8, 2), varint(1), Buffer.from('w')]);
      const raw = (n: number) => Buffer.concat([tag(9, 2), varint(n), Buffer.alloc(n)]);
      const external = (location: string, extra: Record<string, string> = {}) => Buffer.concat([
        ...Object.entries({ location, ...extra }).map(([k, v]) => {
          const entry = Buffer.concat([tag(1, 2), varint(Buffer.byteLength(k)), Buffer.from(k), tag(2, 2), varint(Buffer.byteLength(v)), Buffer.from(v)]);
          return Buffer.concat([tag(13, 2), varint(entry.length), entry]);
        }),
        tag(14, 0), varint(1),
      ]);

      it('reads a crafted valid weight', async () => {
        const f = await write('model.onnx', craft([...dims(2, 3), float, name, raw(24)]));
        const info = await readOnnxModel(f);
        assert.deepEqual(info.weights.map((w) => [w.name, w.dims, w.data.length]), [['w', [2, 3], 24]]);
      });
      it('rejects absurd and negative dimensions without allocating', async () => {
        for (const ds of [[2n ** 41n], [-1n & (2n ** 64n - 1n)], [2n ** 63n]]) {
          const f = await write('model.onnx', craft([...dims(...ds), float, name, raw(4)]));
          await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /absurd dimension/);
        }
        const f = await write('model.onnx', craft([...dims(2 ** 30, 2 ** 30, 2 ** 30), float, name, raw(4)]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /holds 4 bytes but its shape \[1073741824,1073741824,1073741824\] of float needs/);
      });
      it('rejects a weight with no data or with too few bytes', async () => {
        let f = await write('model.onnx', craft([...dims(2), float, name]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /weight "w" has no data/);
        f = await write('model.onnx', craft([...dims(2), float, name, raw(4)]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /holds 4 bytes but its shape \[2\] of float needs 8/);
      });
      it('refuses external data that points outside the model folder, by path or by symlink, before reading it', async () => {
        const dir = path.join(tmp, 'ext');
        const inner = path.join(dir, 'model');
        await fsp.mkdir(inner, { recursive: true });
        await fsp.writeFile(path.join(dir, 'secret.bin'), Buffer.alloc(64, 7));
        await fsp.symlink(path.join(dir, 'secret.bin'), path.join(inner, 'link.bin'));
        await fsp.mkdir(path.join(inner, 'sub'));
        await fsp.symlink(dir, path.join(inner, 'sub', 'up'));
        const f = path.join(inner, 'model.onnx');
        for (const [location, fragment] of [
          ['../secret.bin', /points outside the model's folder; refused/],
          ['../../../../etc/passwd', /points outside/],
          ['sub/../../secret.bin', /points outside/],
          [path.join(dir, 'secret.bin'), /points outside/],
          ['/etc/passwd', /points outside/],
          ['C:\\Windows\\win.ini', /points outside/],
          ['..\\secret.bin', /points outside/],
          ['link.bin', /links outside the model's folder; refused/],
          ['sub/up/secret.bin', /links outside/],
        ] as const) {
          await fsp.writeFile(f, craft([...dims(4), float, name, external(location)]));
          await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, fragment);
        }
      });
      it('refuses external data that is a folder, missing, or out of range', async () => {
        const dir = path.join(tmp, 'ext2');
        await fsp.mkdir(path.join(dir, 'weights'), { recursive: true });
        await fsp.writeFile(path.join(dir, 'w.bin'), Buffer.alloc(16));
        const f = path.join(dir, 'model.onnx');
        await fsp.writeFile(f, craft([...dims(4), float, name, external('weights')]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /external data "weights" is not a file/);
        await fsp.writeFile(f, craft([...dims(4), float, name, external('gone.bin')]));
        await expectSoupError(() => readOnnxModel(f), 'FILE_NOT_FOUND', f, /external data file "gone\.bin" not found/);
        await fsp.writeFile(f, craft([...dims(4), float, name, external('w.bin', { offset: '8' })]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /external data range 8\+16 is outside "w\.bin" \(16 bytes\)/);
        await fsp.writeFile(f, craft([...dims(4), float, name, external('w.bin', { offset: '-4' })]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /external data range/);
        await fsp.writeFile(f, craft([...dims(4), float, name, external('')]));
        await expectSoupError(() => readOnnxModel(f), 'ONNX_INVALID', f, /names no location/);
        await fsp.writeFile(f, craft([...dims(4), float, name, external('w.bin')]));
        const info = await readOnnxModel(f);
        assert.equal((await loadWeights(info))[0].length, 4);
      });
    });
  });

  describe('metrics files (run readers report, never throw)', () => {
    async function run(files: Record<string, string>): Promise<{ folder: RunFolder; id: string }> {
      const id = `run${counter++}`;
      const dir = path.join(tmp, id);
      for (const [rel, text] of Object.entries({ 'model.onnx': 'stub', ...files })) {
        await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fsp.writeFile(path.join(dir, rel), text);
      }
      const folder = await listRunFolder(tmp, dir);
      assert.ok(folder);
      return { folder, id };
    }

    const plainCases: [string, string, RegExp][] = [
      ['NaN', '{"val_accuracy": NaN}', /metrics\.json: val_accuracy is NaN$/],
      ['Infinity', '{"val_accuracy": Infinity}', /val_accuracy is Infinity$/],
      ['-Infinity', '{"val_accuracy": -Infinity}', /val_accuracy is -Infinity$/],
      ['1e999 (overflows to Infinity)', '{"val_accuracy": 1e999}', /val_accuracy is Infinity$/],
      ['a string', '{"val_accuracy": "0.87"}', /val_accuracy is a string \("0\.87"\), expected a number in \[0, 1\]/],
      ['a percentage', '{"val_accuracy": 87}', /val_accuracy is 87, expected a fraction in \[0, 1\]/],
      ['negative', '{"val_accuracy": -0.1}', /is -0\.1, expected a fraction/],
      ['null', '{"val_accuracy": null}', /is null/],
      ['an array', '{"val_accuracy": [0.8]}', /is an array/],
      ['an object', '{"val_accuracy": {"v": 0.8}}', /is object/],
      ['missing', '{"accuracy": 0.8}', /metrics\.json: no val_acc or val_accuracy or eval_accuracy or .* or validation\/accuracy$/],
      ['not an object', '[0.8]', /metrics\.json: expected a JSON object/],
      ['bad JSON', '{"val_accuracy": 0.8,', /metrics\.json: not valid JSON/],
      ['empty', '', /metrics\.json: not valid JSON/],
      ['NaN inside a string is text', '{"val_accuracy": "NaN"}', /is a string \("NaN"\)/],
    ];
    for (const [what, text, fragment] of plainCases) {
      it(`metrics.json with val_accuracy ${what}: unscored, naming the file`, async () => {
        const { folder, id } = await run({ 'metrics.json': text });
        const r = await readPlainRun(folder);
        assert.equal(r.status, 'unscored');
        assert.ok(r.reason?.startsWith(`${id}/metrics.json: `), r.reason);
        assert.match(r.reason ?? '', fragment);
      });
    }

    it('metrics.json nested 100 000 levels deep in hparams: read, not a stack overflow', async () => {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const { folder } = await run({ 'metrics.json': `{"val_accuracy": 0.8, "hparams": {"lr": 0.1, "schedule": ${deep}}}` });
      const r = await readPlainRun(folder);
      assert.equal(r.status, 'ok');
      assert.equal(r.heldout, 0.8);
      assert.equal(r.hparams.lr, 0.1);
    });

    it('hyperparameter names like constructor and __proto__ are kept as plain keys', async () => {
      const { folder } = await run({ 'metrics.json': '{"val_accuracy": 0.8, "hparams": {"constructor": 1, "toString": "x", "__proto__": {"polluted": true}}}' });
      const r = await readPlainRun(folder);
      assert.equal(r.hparams.constructor, 1);
      assert.equal(r.hparams.toString, 'x');
      assert.deepEqual(Object.keys(r.hparams).sort(), ['__proto__', 'constructor', 'toString']);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.getPrototypeOf(r.hparams), Object.prototype);
    });

    it('trainer_state.json best_metric NaN / string and eval_results.json Infinity: unscored, naming the file', async () => {
      let { folder, id } = await run({ 'trainer_state.json': '{"best_metric": NaN}' });
      let r = await readHfTrainerRun(folder);
      assert.equal(r.reason, `${id}/trainer_state.json: best_metric is NaN`);
      ({ folder, id } = await run({ 'trainer_state.json': '{"best_metric": "high"}' }));
      r = await readHfTrainerRun(folder);
      assert.equal(r.reason, `${id}/trainer_state.json: best_metric is a string ("high"), expected a number in [0, 1]`);
      ({ folder, id } = await run({ 'eval_results.json': '{"eval_accuracy": Infinity}' }));
      r = await readHfTrainerRun(folder);
      assert.equal(r.reason, `${id}/eval_results.json: eval_accuracy is Infinity`);
      ({ folder, id } = await run({ 'all_results.json': '{"eval_accuracy": 0.8', 'trainer_state.json': '{}' }));
      r = await readHfTrainerRun(folder);
      assert.match(r.reason ?? '', new RegExp(`^${id}/all_results\\.json: not valid JSON`));
      ({ folder, id } = await run({ 'trainer_state.json': '{"global_step": 10}' }));
      r = await readHfTrainerRun(folder);
      assert.match(r.reason ?? '', /no eval_accuracy in eval_results\.json or all_results\.json and no best_metric in trainer_state\.json/);
    });

    it('trainer_state.json log_history with a wrong-typed accuracy at the checkpoint step: unscored, naming entry and file', async () => {
      const { folder, id } = await run({
        'trainer_state.json': JSON.stringify({ best_model_checkpoint: 'out/checkpoint-5', log_history: [{ step: 5, eval_accuracy: '0.9' }] }),
        'checkpoint-5/model.onnx': 'stub',
      });
      const r = await readHfTrainerRun(folder);
      assert.equal(r.status, 'unscored');
      assert.equal(r.reason, `${id}/trainer_state.json: log_history[0].eval_accuracy is a string ("0.9"), expected a number in [0, 1]`);
    });

    const csvCases: [string, string, RegExp][] = [
      ['missing metric column', 'epoch,step,val_loss\n0,1,0.5\n', /no column val_acc or val_accuracy or .* or validation\/accuracy \(columns: epoch, step, val_loss\)/],
      ['nan', 'epoch,step,val_acc\n0,1,nan\n', /val_acc \(row 2\) is NaN/],
      ['inf', 'epoch,step,val_acc\n0,1,inf\n', /is Infinity/],
      ['text', 'epoch,step,val_acc\n0,1,high\n', /val_acc \(row 2\) is a string \("high"\)/],
      ['a percentage', 'epoch,step,val_acc\n0,1,87.5\n', /is 87\.5, expected a fraction/],
      ['no values', 'epoch,step,val_acc\n0,1,\n', /no row has a val_acc value/],
      ['empty', '', /empty file \(no header row\)/],
      ['unclosed quote', 'epoch,step,val_acc\n0,1,"0.5\n', /unclosed quote/],
      ['a loose hex number', 'epoch,step,val_acc\n0,1,0x1\n', /is a string \("0x1"\)/],
    ];
    for (const [what, text, fragment] of csvCases) {
      it(`metrics.csv with ${what}: unscored, naming the file`, async () => {
        const { folder, id } = await run({ 'metrics.csv': text });
        const r = await readLightningRun(folder);
        assert.equal(r.status, 'unscored');
        assert.ok(r.reason?.startsWith(`${id}/metrics.csv: `), r.reason);
        assert.match(r.reason ?? '', fragment);
      });
    }

    it('hparams.yaml alias bomb (billion laughs): refused quickly, hparams empty, score kept', async () => {
      let yaml = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
      let prev = 'a';
      for (let i = 0; i < 12; i++) {
        yaml += `b${i}: &b${i} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
        prev = `b${i}`;
      }
      const started = Date.now();
      assert.equal(parseHParamsYaml(yaml), undefined);
      const { folder } = await run({ 'hparams.yaml': yaml, 'metrics.csv': 'epoch,step,val_acc\n0,1,0.8\n' });
      const r = await readLightningRun(folder);
      assert.ok(Date.now() - started < 5000, 'alias expansion is bounded');
      assert.equal(r.status, 'ok');
      assert.deepEqual(r.hparams, {});
    });

    it('hparams.yaml with Python tags, duplicate keys or deep nesting: no crash, safe values only', () => {
      assert.deepEqual(parseHParamsYaml('lr: !!python/object/apply:builtins.float [0.1]\nseed: 1\n')?.seed, 1);
      assert.equal(parseHParamsYaml('lr: 1\nlr: 2\n'), undefined);
      assert.equal(parseHParamsYaml('- 1\n- 2\n'), undefined, 'a list is not a mapping');
      assert.doesNotThrow(() => parseHParamsYaml(`a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`));
      const small = parseHParamsYaml('base: &b {lr: 0.1}\nrun: *b\n');
      assert.deepEqual(small?.run, { lr: 0.1 }, 'a few aliases are fine');
    });
  });

  describe('modelsoups.json', () => {
    async function config(text: string): Promise<{ dir: string; file: string }> {
      const file = await write('modelsoups.json', text);
      return { dir: path.dirname(file), file };
    }
    const cases: [string, string, RegExp][] = [
      ['bad JSON', '{"datasets": ', /not valid JSON/],
      ['NaN (not JSON)', '{"scale": NaN}', /not valid JSON/],
      ['a top-level array', '[]', /expected a JSON object at the top level/],
      ['an unknown key', '{"datsets": {}}', /unknown key "datsets" \(known: datasets, pretrained/],
      ['an unknown nested key', '{"datasets": {"heldot": "a.npz"}}', /unknown key "datasets\.heldot"/],
      ['an unknown model key', '{"model": {"inputs": "x"}}', /unknown key "model\.inputs"/],
      ['an unknown greedy key', '{"greedy": {"compare": ">"}}', /unknown key "greedy\.compare"/],
      ['a string scale', '{"scale": "0.5"}', /"scale" must be a positive number, got "0\.5"/],
      ['an infinite scale', '{"scale": 1e999}', /"scale" must be a positive number, got null/],
      ['a zero scale', '{"scale": 0}', /"scale" must be a positive number, got 0/],
      ['a fractional batchSize', '{"batchSize": 1.5}', /"batchSize" must be a positive integer, got 1\.5/],
      ['a string batchSize', '{"batchSize": "500"}', /"batchSize" must be a positive integer, got "500"/],
      ['negative threads', '{"threads": -2}', /"threads" must be a positive integer, got -2/],
      ['a number heldout path', '{"datasets": {"heldout": 3}}', /"datasets\.heldout" must be an \.npz file path or \{"x": "<x>\.npy", "y": "<y>\.npy"\}, got 3/],
      ['an empty heldout path', '{"datasets": {"heldout": ""}}', /"datasets\.heldout" must be a non-empty string, got ""/],
      ['a null shift path', '{"datasets": {"shifts": {"rotate": null}}}', /"datasets\.shifts\.rotate" must be an \.npz file path or .*got null/],
      ['an x/y pair with an extra key', '{"datasets": {"test": {"x": "a.npy", "y": "b.npy", "z": "c.npy"}}}', /"datasets\.test" must be an \.npz file path or/],
      ['a shift named heldout', '{"datasets": {"shifts": {"heldout": "a.npz"}}}', /a shift cannot be named "heldout"/],
      ['an unknown device', '{"device": "tpu"}', /"device" must be "cpu" or "cuda", got "tpu"/],
      ['shifts as a list', '{"datasets": {"shifts": ["a.npz"]}}', /"datasets\.shifts" must map shift names/],
      ['include as a string', '{"include": "runs/**"}', /"include" must be an array of glob strings/],
      ['a bad comparison', '{"greedy": {"comparison": "gt"}}', /"greedy\.comparison" must be ">=" \(paper\) or ">" \(official code\), got "gt"/],
      ['an empty output', '{"output": ""}', /"output" must be a non-empty string/],
      ['a __proto__ key', '{"__proto__": {"scale": 2}}', /unknown key "__proto__"/],
    ];
    for (const [what, text, fragment] of cases) {
      it(`rejects ${what} with CONFIG_INVALID naming the file`, async () => {
        const { dir, file } = await config(text);
        await expectSoupError(() => loadConfig(dir), 'CONFIG_INVALID', file, fragment);
      });
    }
    it('reports a config that is a folder as READ_FAILED, not as bad JSON', async () => {
      const dir = path.join(tmp, `cfgdir${counter++}`);
      await fsp.mkdir(path.join(dir, 'modelsoups.json'), { recursive: true });
      await expectSoupError(() => loadConfig(dir), 'READ_FAILED', path.join(dir, 'modelsoups.json'), /is a folder, not a regular file/);
    });
    it('reads the example config', () => {
      const cfg = loadConfig(ZOO);
      assert.equal(cfg.datasets.heldout, 'data/heldout_val.npz');
      assert.equal(Object.keys(cfg.datasets.shifts).length, 5);
    });
    it('reports a missing explicit config as FILE_NOT_FOUND', async () => {
      const err = await expectSoupError(() => loadConfig(tmp, 'nope.json'), 'FILE_NOT_FOUND', path.join(tmp, 'nope.json'), /config file not found/);
      assertTypedError(err, path.join(tmp, 'nope.json'));
      assert.ok(err instanceof SoupError);
    });
  });
});


function tag(field: number, wireType: number): Buffer {
  return varint(field * 8 + wireType);
}

