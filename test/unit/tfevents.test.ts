/**
 * The TensorBoard event-file reader: TFRecord framing and checksums, the scalar encodings, and
 * bad records (bad checksums, truncation, absurd lengths, undecodable events), which are skipped
 * and counted, never fatal.
 */
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { crc32c, maskedCrc32c } from '../../src/engine/formats/crc32c';
import { WINDOW_BYTES, readEventScalars } from '../../src/engine/formats/tfevents';
import type { EventSpec } from '../../scripts/bench/tfeventsWriter';
import { encodeEvent, encodeEventFile, frameRecord } from '../../scripts/bench/tfeventsWriter';
import { expectSoupError } from './fuzz/outcome';
import { tempDir } from './helpers/paths';

const f32 = Math.fround;
const steps = (n: number, from = 1): EventSpec[] => Array.from({ length: n }, (_, i) => ({ step: from + i, scalars: [{ tag: 'val_acc', value: (from + i) / 1000 }] }));

describe('TensorBoard event files', () => {
  let tmp: string;
  let k = 0;
  before(async () => {
    tmp = await tempDir('soups-tfevents-');
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });
  async function write(bytes: Buffer): Promise<string> {
    const file = path.join(tmp, `events.out.tfevents.${k++}.host`);
    await fsp.writeFile(file, bytes);
    return file;
  }
  const record = (e: EventSpec): Buffer => frameRecord(encodeEvent(e));

  it('computes CRC-32C (the catalogue check value of "123456789") and TensorFlow\'s mask', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const c = 0xe3069283;
    assert.equal(maskedCrc32c(Buffer.from('123456789')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
    // Slice-by-8 and the byte loop agree at every length and alignment.
    const data = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff));
    for (let s = 0; s < 8; s++) {
      for (let e = s; e <= data.length; e++) assert.equal(crc32c(data, s, e), crc32c(Buffer.from(data.subarray(s, e))));
    }
  });

  it('reads simple_value scalars and float, double and tensor_content scalar tensors', async () => {
    const file = await write(encodeEventFile([
      { step: 10, wallTime: 5, scalars: [{ tag: 'a', value: 0.25 }, { tag: 'b', value: 0.1, as: 'tensorFloat' }] },
      { step: 20, scalars: [{ tag: 'c', value: 0.1, as: 'tensorDouble' }, { tag: 'd', value: 0.7, as: 'tensorContent' }] },
    ]));
    const read = await readEventScalars(file);
    assert.equal(read.records, 3);
    assert.equal(read.skipped, 0);
    assert.deepEqual(read.series.get('a'), [{ step: 10, value: 0.25, wallTime: 5, float32: true }]);
    assert.deepEqual(read.series.get('b')?.map((p) => [p.step, p.value, p.float32]), [[10, f32(0.1), true]]);
    assert.deepEqual(read.series.get('c')?.map((p) => [p.step, p.value, p.float32]), [[20, 0.1, false]]);
    assert.deepEqual(read.series.get('d')?.map((p) => [p.step, p.value]), [[20, f32(0.7)]]);
  });

  it('keeps only the tags asked for', async () => {
    const file = await write(encodeEventFile([{ step: 1, scalars: [{ tag: 'val_acc', value: 0.5 }, { tag: 'train_loss', value: 2 }] }]));
    const read = await readEventScalars(file, { tags: new Set(['val_acc']) });
    assert.deepEqual([...read.series.keys()], ['val_acc']);
  });

  it('reads records across window boundaries of a file larger than one window', async () => {
    const events = steps(60_000);
    const bytes = encodeEventFile(events);
    assert.ok(bytes.length > WINDOW_BYTES, 'spans two windows');
    const read = await readEventScalars(await write(bytes));
    assert.equal(read.skipped, 0);
    assert.equal(read.series.get('val_acc')?.length, events.length);
    assert.equal(read.series.get('val_acc')?.at(-1)?.value, f32(events.length / 1000));
  });

  it('an empty file has no records and no problems', async () => {
    const read = await readEventScalars(await write(Buffer.alloc(0)));
    assert.deepEqual([read.records, read.skipped, read.series.size], [0, 0, 0]);
  });

  it('a missing file is FILE_NOT_FOUND naming it', async () => {
    const file = path.join(tmp, 'missing.tfevents');
    await expectSoupError(() => readEventScalars(file), 'FILE_NOT_FOUND', file, /event file not found/);
  });

  describe('bad records are skipped and counted; the rest is read', () => {
    const before = record({ step: 1, scalars: [{ tag: 'val_acc', value: 0.5 }] });
    const after = record({ step: 3, scalars: [{ tag: 'val_acc', value: 0.75 }] });
    const middle = record({ step: 2, scalars: [{ tag: 'SECRET_TAG', value: 0.6 }] });

    async function check(bad: Buffer, problem: RegExp, expectAfter = true): Promise<void> {
      const file = await write(Buffer.concat([before, bad, ...(expectAfter ? [after] : [])]));
      const read = await readEventScalars(file);
      assert.equal(read.skipped, 1, read.problems.join('; '));
      assert.equal(read.problems.length, 1);
      assert.match(read.problems[0], problem);
      assert.doesNotMatch(read.problems[0], /SECRET/, 'problems never quote file contents');
      assert.deepEqual(read.series.get('val_acc')?.map((p) => p.step), expectAfter ? [1, 3] : [1]);
    }

    it('a data checksum mismatch', async () => {
      const bad = Buffer.from(middle);
      bad[14] ^= 0x01;
      await check(bad, new RegExp(`^record at byte ${before.length}: data checksum mismatch$`));
    });

    it('a length checksum mismatch (the reader finds the next record)', async () => {
      const bad = Buffer.from(middle);
      bad[0] ^= 0x04;
      await check(bad, /length checksum mismatch/);
    });

    it('a length of 2^60 with a valid length checksum', async () => {
      const bad = Buffer.from(middle);
      bad.writeBigUInt64LE(2n ** 60n, 0);
      bad.writeUInt32LE(maskedCrc32c(bad, 0, 8), 8);
      await check(bad, /length \d+ runs past the end of the file \(truncated record\)/);
    });

    it('a record over the size limit is stepped over unread', async () => {
      const file = await write(Buffer.concat([before, record({ step: 2, scalars: [{ tag: 'val_acc', value: 0.1 }, { tag: 'x'.repeat(200), value: 1 }] }), after]));
      const read = await readEventScalars(file, { maxRecordBytes: 100 });
      assert.equal(read.skipped, 1);
      assert.match(read.problems[0], /over the limit of 100 bytes/);
      assert.deepEqual(read.series.get('val_acc')?.map((p) => p.step), [1, 3]);
    });

    it('a truncated last record', async () => {
      await check(middle.subarray(0, middle.length - 3), /truncated record/, false);
    });

    it('a file cut inside a record header', async () => {
      await check(middle.subarray(0, 7), /truncated \(7 bytes left/, false);
    });

    it('an unknown wire type inside an event with valid checksums', async () => {
      // Field 9, wire type 7: no such wire type.
      const data = Buffer.concat([encodeEvent({ step: 2 }), Buffer.from([(9 << 3) | 7, 0])]);
      await check(frameRecord(data), /not an Event proto \(invalid wire type 7/);
    });

    it('a summary whose length runs past the event', async () => {
      const data = Buffer.concat([encodeEvent({ step: 2 }), Buffer.from([(5 << 3) | 2, 0x7f, 1, 2])]);
      await check(frameRecord(data), /not an Event proto/);
    });

    it('bytes that are not an event file at all: nothing read, one bad stretch, no throw', async () => {
      const junk = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) & 0xff));
      const read = await readEventScalars(await write(junk));
      assert.equal(read.records, 0);
      assert.equal(read.skipped, 1);
    });

    it('counts every bad record but keeps only the first few descriptions', async () => {
      const bad = Buffer.from(middle);
      bad[14] ^= 0x01;
      const read = await readEventScalars(await write(Buffer.concat([before, ...Array.from({ length: 12 }, () => bad), after])));
      assert.equal(read.skipped, 12);
      assert.equal(read.problems.length, 5);
      assert.deepEqual(read.series.get('val_acc')?.map((p) => p.step), [1, 3]);
    });
  });

  it('stops when the signal fires', async () => {
    const file = await write(encodeEventFile(steps(10_000)));
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(readEventScalars(file, { signal: controller.signal }), (err: Error & { code?: string }) => err.code === 'CANCELLED');
  });
});
