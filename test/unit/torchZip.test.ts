/**
 * Hand-written torch.save archives (no PyTorch needed): views and shared storages, big-endian
 * archives, wrappers, and hostile pickles and zips (deep nesting, huge memo ids, LONG_BINGET out
 * of range, storage offsets past the end, `..` entries, a 2^40-element shape, legacy format),
 * plus a bounded seeded fuzz of the zip reader and the unpickler.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { openWeights } from '../../src/engine/checkpoints/weightsFile';
import { unpickle, PickleError } from '../../src/engine/formats/pickleMachine';
import { TensorReader } from '../../src/engine/formats/tensorRead';
import { TorchPickleResolver } from '../../src/engine/formats/torchPickle';
import { readTorchWeights } from '../../src/engine/formats/torchCheckpoint';
import { openZip, closeZip } from '../../src/engine/formats/zipDirectory';
import { encodeZip } from './fuzz/builders';
import { mutateBinary } from './fuzz/mutators';
import { FuzzTally, expectSoupError } from './fuzz/outcome';
import { Prng } from './fuzz/prng';
import { tempDir } from './helpers/paths';
import { PickleWriter, f32Bytes, torchZip, type StorageSpec, type TensorSpec } from './helpers/torchZipWriter';

const SCALE = Number(process.env.MODEL_SOUP_FUZZ_SCALE ?? '1') || 1;

// One 3x4 float storage 0..11, and three tensors over it: the whole (contiguous), its transpose
// (a strided view) and row 1 (a view at an offset).
const STORAGE: StorageSpec = { key: '0', type: 'FloatStorage', numel: 12, bytes: f32Bytes(Array.from({ length: 12 }, (_, i) => i)) };
const VIEWS: TensorSpec[] = [
  { name: 'w', key: '0', offset: 0, shape: [3, 4], stride: [4, 1] },
  { name: 'w_t', key: '0', offset: 0, shape: [4, 3], stride: [1, 4] },
  { name: 'row1', key: '0', offset: 4, shape: [4], stride: [1] },
];

function stateDictPickle(tensors: TensorSpec[] = VIEWS, storages: StorageSpec[] = [STORAGE]): Buffer {
  return new PickleWriter().stateDict(tensors, storages).bytes();
}

describe('torch zip checkpoints written by hand', function () {
  let dir: string;
  before(async () => {
    dir = await tempDir('soups-torchzip-');
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });
  let count = 0;
  async function write(bytes: Buffer, name = `case-${count++}.pt`): Promise<string> {
    const file = path.join(dir, name);
    await fsp.writeFile(file, bytes);
    return file;
  }

  it('materialises views of one shared storage contiguous: whole, transposed, at an offset', async () => {
    const file = await write(torchZip(stateDictPickle(), [STORAGE], 'any_folder_name'));
    const w = await readTorchWeights(file);
    assert.equal(w.archive, 'any_folder_name');
    assert.deepEqual(w.tensors.map((t) => [t.name, t.storageKey, t.storageOffset, t.strides]), [['w', '0', 0, [4, 1]], ['w_t', '0', 0, [1, 4]], ['row1', '0', 4, [1]]]);
    const reader = new TensorReader();
    try {
      assert.deepEqual(Array.from((await reader.read(w.tensors[0])) as Float32Array), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual(Array.from((await reader.read(w.tensors[1])) as Float32Array), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
      assert.deepEqual(Array.from((await reader.read(w.tensors[2])) as Float32Array), [4, 5, 6, 7]);
    } finally {
      await reader.close();
    }
  });

  it('byte-swaps archives saved on big-endian machines', async () => {
    const be = new Uint8Array(STORAGE.bytes);
    for (let i = 0; i < be.length; i += 4) be.subarray(i, i + 4).reverse();
    const file = await write(torchZip(stateDictPickle(), [{ ...STORAGE, bytes: be }], 'archive', 'big'));
    const table = await openWeights(file);
    const reader = new TensorReader();
    try {
      assert.deepEqual(Array.from((await reader.read(table.tensors[2])) as Float32Array), [4, 5, 6, 7]);
    } finally {
      await reader.close();
    }
  });

  it('reads a sharded pytorch_model.bin set through its index, and refuses a stale index', async () => {
    const shardDir = path.join(dir, 'sharded');
    await fsp.mkdir(shardDir);
    await fsp.writeFile(path.join(shardDir, 'pytorch_model-00001-of-00002.bin'), torchZip(stateDictPickle([VIEWS[0]]), [STORAGE]));
    await fsp.writeFile(path.join(shardDir, 'pytorch_model-00002-of-00002.bin'), torchZip(stateDictPickle([VIEWS[2]]), [STORAGE]));
    const index = path.join(shardDir, 'pytorch_model.bin.index.json');
    const weightMap = { w: 'pytorch_model-00001-of-00002.bin', row1: 'pytorch_model-00002-of-00002.bin' };
    await fsp.writeFile(index, JSON.stringify({ metadata: { total_size: 64 }, weight_map: weightMap }));
    const table = await openWeights(index);
    assert.equal(table.format, 'torch-sharded');
    assert.deepEqual(table.tensors.map((t) => [t.name, path.basename(t.file)]), Object.entries(weightMap));
    await fsp.writeFile(index, JSON.stringify({ weight_map: { ...weightMap, extra: 'pytorch_model-00001-of-00002.bin' } }));
    await expectSoupError(() => openWeights(index), 'CHECKPOINT_INVALID', index, /weight_map names tensor "extra"/);
    await fsp.writeFile(index, JSON.stringify({ weight_map: { w: '../elsewhere.bin' } }));
    await expectSoupError(() => openWeights(index), 'CHECKPOINT_INVALID', index, /outside the index's folder/);
  });

  it('finds the state dict under a {"model": ...} wrapper and ignores placeholders beside it', async () => {
    const p = new PickleWriter().emptyDict().mark();
    p.str('args').global('argparse', 'Namespace').emptyTuple().raw(0x81).emptyDict().raw(0x62); // NEWOBJ + BUILD
    p.str('model').stateDict(VIEWS, [STORAGE]);
    const file = await write(torchZip(p.setItems().bytes(), [STORAGE]));
    const w = await readTorchWeights(file);
    assert.deepEqual(w.stateDictPath, ['model']);
    assert.deepEqual(w.foreignGlobals, ['argparse.Namespace']);
    assert.equal(w.tensors.length, 3);
  });

  it('refuses a call of a non-allowlisted global on the path to the weights, naming it', async () => {
    const evil = (module: string, name: string): Buffer => {
      const p = new PickleWriter().emptyDict().mark().str('state_dict');
      p.global(module, name).mark().str('print(1)').tuple().reduce();
      return p.setItems().bytes();
    };
    for (const [m, n] of [['builtins', 'eval'], ['os', 'system'], ['subprocess', 'Popen']]) {
      const file = await write(torchZip(evil(m, n), []));
      await expectSoupError(() => readTorchWeights(file), 'CHECKPOINT_UNSAFE', file, new RegExp(`${m}\\.${n}`));
    }
    // A state-dict entry that is such a call is refused too.
    const p = new PickleWriter().orderedDict().mark().str('w').tensor(VIEWS[0], [STORAGE]);
    p.str('bias').global('builtins', 'exec').mark().str('x').tuple().reduce().setItems();
    const file = await write(torchZip(p.bytes(), [STORAGE]));
    await expectSoupError(() => readTorchWeights(file), 'CHECKPOINT_UNSAFE', file, /builtins\.exec/);
  });

  const hostile: [string, () => Buffer, RegExp, string?][] = [
    ['deep MARK nesting', () => Buffer.concat([Buffer.from([0x80, 2]), Buffer.alloc(100_000, 0x28), Buffer.from([0x2e])]), /nested deeper/],
    ['deep list nesting', () => Buffer.concat([Buffer.from([0x80, 2]), Buffer.alloc(200_000, 0x5d), Buffer.alloc(199_999, 0x61), Buffer.from([0x2e])]), /no state dict|not a dict/],
    ['a huge memo id', () => new PickleWriter().raw(0x4e, 0x72, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0x6a, Buffer.from([0xff, 0xff, 0xff, 0xff])).bytes(), /not a dict of tensors/],
    ['LONG_BINGET out of range', () => new PickleWriter().raw(0x6a, Buffer.from([0x00, 0x00, 0x00, 0x80])).bytes(), /memo id 2147483648 was never stored/],
    ['a string longer than the pickle', () => new PickleWriter().raw(0x58, Buffer.from([0xff, 0xff, 0xff, 0x7f])).bytes(), /runs past the end/],
    ['BINUNICODE8 of 2^63 bytes', () => new PickleWriter().raw(0x8d, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80])).bytes(), /impossible|runs past/],
    ['a pickle without STOP', () => new PickleWriter().raw(0x4e).body(), /without STOP/],
    ['an unknown opcode', () => new PickleWriter().raw(0xff).bytes(), /opcode 0xff/],
    ['INST (text protocol object creation)', () => new PickleWriter().mark().raw(0x69, Buffer.from('os\nsystem\n')).bytes(), /INST is not supported/],
    ['a persistent id that is not a storage', () => new PickleWriter().str('x').raw(0x51).bytes(), /not \('storage'/],
    ['a storage offset past the end', () => stateDictPickle([{ name: 'w', key: '0', offset: 9, shape: [4], stride: [1] }]), /runs past its storage/],
    ['a 2^40-element shape', () => stateDictPickle([{ name: 'w', key: '0', offset: 0, shape: [1 << 20, 1 << 20], stride: [0, 0] }]), /over the limit/],
    ['a storage bigger than its entry', () => new PickleWriter().stateDict([VIEWS[0]], [{ ...STORAGE, numel: 2 ** 40 }]).bytes(), /runs past its storage|holds 48 bytes/],
    ['a storage with no entry', () => new PickleWriter().stateDict([{ ...VIEWS[0], key: '7' }], [{ ...STORAGE, key: '7' }]).bytes(), /no entry archive\/data\/7/],
    ['a storage key with a path', () => new PickleWriter().stateDict([{ ...VIEWS[0], key: '../x' }], [{ ...STORAGE, key: '../x' }]).bytes(), /not a plain name/],
    ['a pickled whole module', () => new PickleWriter().global('__main__', 'Net').emptyTuple().raw(0x81).emptyDict().raw(0x62).bytes(), /pickled __main__\.Net object/],
  ];
  for (const [what, pickle, message] of hostile) {
    it(`refuses ${what}, naming the file`, async () => {
      const file = await write(torchZip(pickle(), [STORAGE]));
      const err = await expectSoupError(() => readTorchWeights(file), 'CHECKPOINT_INVALID', file, message);
      assert.ok(err.message.startsWith(file));
    });
  }

  it('refuses zip entries with .. or absolute names, and the legacy pre-1.6 format by name', async () => {
    for (const name of ['../evil/data.pkl', 'archive/../../x', '/abs/data.pkl']) {
      const file = await write(encodeZip([{ name, data: stateDictPickle() }]));
      await expectSoupError(() => readTorchWeights(file), 'ZIP_INVALID', file, /absolute or parent path; refused/);
    }
    const legacy = await write(Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]), Buffer.alloc(64)]));
    await expectSoupError(() => readTorchWeights(legacy), 'CHECKPOINT_INVALID', legacy, /legacy torch\.save format/);
    const truncated = torchZip(stateDictPickle(), [STORAGE]);
    const cut = await write(truncated.subarray(0, truncated.length - 30));
    await expectSoupError(() => openZip(cut), 'ZIP_INVALID', cut, /end of central directory not found|past the end/);
  });

  it('lists a ZIP64 archive (the end record, locator and extra fields)', async () => {
    const plain = encodeZip([{ name: 'a/data.pkl', data: Buffer.from('x') }]);
    // Rewrite the end record as ZIP64: saturated 32-bit fields plus a ZIP64 record and locator.
    const eocdAt = plain.length - 22;
    const cdSize = plain.readUInt32LE(eocdAt + 12);
    const cdOffset = plain.readUInt32LE(eocdAt + 16);
    const z64 = Buffer.alloc(56);
    z64.writeUInt32LE(0x06064b50, 0);
    z64.writeBigUInt64LE(44n, 4);
    z64.writeBigUInt64LE(1n, 24);
    z64.writeBigUInt64LE(1n, 32);
    z64.writeBigUInt64LE(BigInt(cdSize), 40);
    z64.writeBigUInt64LE(BigInt(cdOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(eocdAt), 8);
    locator.writeUInt32LE(1, 16);
    const eocd = Buffer.from(plain.subarray(eocdAt));
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    const file = await write(Buffer.concat([plain.subarray(0, eocdAt), z64, locator, eocd]));
    const zip = await openZip(file);
    try {
      assert.deepEqual([...zip.entries.keys()], ['a/data.pkl']);
    } finally {
      await closeZip(zip);
    }
  });

  it('survives seeded mutations of a torch zip and of its pickle: a result or a typed error naming the file', async function () {
    this.timeout(60_000);
    const validPickle = new PickleWriter().emptyDict().mark().str('epoch').int(3).str('state_dict').stateDict(VIEWS, [STORAGE]).setItems().bytes();
    const validZip = torchZip(validPickle, [STORAGE]);
    const rng = new Prng(0x70c4);
    const zipTally = new FuzzTally('torch zip');
    const file = path.join(dir, 'fuzz.pt');
    for (let i = 0; i < Math.round(300 * SCALE); i++) {
      const m = mutateBinary(validZip, rng, [[0, 120], [validZip.length - 400, validZip.length]]);
      await fsp.writeFile(file, m.bytes);
      await zipTally.run(i, m.description, file, async () => {
        const table = await openWeights(file);
        const reader = new TensorReader();
        try {
          for (const t of table.tensors) await reader.read(t);
        } finally {
          await reader.close();
        }
      });
    }
    zipTally.assertClean();
    // The unpickler alone: only PickleError, never anything else, for any bytes.
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < Math.round(3000 * SCALE); i++) {
      const m = mutateBinary(validPickle, rng);
      try {
        unpickle(m.bytes, new TorchPickleResolver());
        parsed++;
      } catch (err) {
        assert.ok(err instanceof PickleError, `#${i} (${m.description}): ${(err as Error).stack}`);
        refused++;
      }
    }
    assert.equal(parsed + refused, Math.round(3000 * SCALE));
    assert.ok(refused > 0);
  });
});
