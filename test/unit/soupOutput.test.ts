import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SoupError } from '../../src/engine/errors';
import { writeAtomically } from '../../src/engine/soupOutput';
import { tempDir } from './helpers/paths';

describe('writeAtomically', () => {
  it('moves to the next free name when another process takes the planned one meanwhile, and says so', async () => {
    const out = await tempDir();
    const renamedTo: string[] = [];
    const dir = await writeAtomically(
      out,
      'soup',
      undefined,
      async (tmp, finalDir) => {
        await fsp.writeFile(path.join(tmp, 'a.txt'), 'mine');
        // Another process finishes a soup of the same name while this one writes.
        await fsp.mkdir(finalDir);
        await fsp.writeFile(path.join(finalDir, 'a.txt'), 'theirs');
      },
      async (finalDir) => {
        renamedTo.push(finalDir);
      },
    );
    assert.equal(dir, path.join(out, 'soup-2'));
    assert.deepEqual(renamedTo, [dir]);
    assert.equal(await fsp.readFile(path.join(out, 'soup', 'a.txt'), 'utf8'), 'theirs');
    assert.equal(await fsp.readFile(path.join(dir, 'a.txt'), 'utf8'), 'mine');
    assert.deepEqual((await fsp.readdir(out)).sort(), ['soup', 'soup-2']);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('removes the temp folder and writes nothing when filling fails', async () => {
    const out = await tempDir();
    await assert.rejects(
      writeAtomically(out, 'soup', undefined, async (tmp) => {
        await fsp.writeFile(path.join(tmp, 'half'), 'x');
        throw new Error('disk full');
      }),
      (err: unknown) => err instanceof SoupError && err.code === 'WRITE_FAILED' && /disk full/.test(err.message),
    );
    assert.deepEqual(await fsp.readdir(out), []);
    await fsp.rm(out, { recursive: true, force: true });
  });

  it('refuses names that are paths or hidden', async () => {
    for (const name of ['../x', 'a/b', '.hidden']) {
      await assert.rejects(writeAtomically('/nonexistent', name, undefined, async () => {}), /must be a plain folder name/);
    }
  });
});
