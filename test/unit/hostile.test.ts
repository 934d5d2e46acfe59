/**
 * What a hostile folder can still do, at engine level (issue 14): the stale-temp sweep deletes
 * only what this tool provably made, dataset readers refuse devices, FIFOs and memory bombs
 * before allocating, symlinks do not lead discovery out of the workspace, metadata content does
 * not leak into reports or messages, and broken data is refused instead of scored.
 * Every memory-bomb case uses a small declared size against a small budget: nothing large is
 * ever allocated.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import { scanWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { datasetBatch, loadDataset } from '../../src/engine/evaluate/dataset';
import { readNpz } from '../../src/engine/formats/npz';
import { readInputFile } from '../../src/engine/formats/readInput';
import { checkOutputWritable, removeStaleTemps, STALE_TEMP_AGE_MS, TEMP_MARKER, writeAtomically } from '../../src/engine/soupOutput';
import { encodeZip } from './fuzz/builders';
import { expectSoupError } from './fuzz/outcome';
import { encodeNpy, encodeNpz, f32, i64 } from './helpers/npzWriter';
import { caseFolders, copyFromExample, EXAMPLE, tempDir } from './helpers/paths';

const HOUR = 60 * 60 * 1000;

/** A marker as a cook on `host` in PID namespace `ns` writes it into its temp folder. */
function marker(cookId: string, host: string, ns: string, pid: number): string {
  return JSON.stringify({ tool: 'model-soups', cookId, host, pidNamespace: ns, pid, createdAt: new Date().toISOString() });
}

function ownPidNamespace(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** A PID that is not running (a short-lived child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** An .npz with float32 `x` (n × 2) and int64 `y`. */
function dataset(x: number[], y: number[]): Buffer {
  return encodeNpz({ 'x.npy': encodeNpy({ descr: '<f4', shape: [y.length, x.length / y.length], data: f32(x) }), 'y.npy': encodeNpy({ descr: '<i8', shape: [y.length], data: i64(y) }) });
}

describe('hostile folders (issue 14)', function () {
  this.timeout(120_000);
  const { fresh } = caseFolders('soups-hostile-');

  describe('the stale-temp sweep deletes only temps this tool provably made', () => {
    it('keeps a foreign .tmp-<name>-<digits> folder and an unmarked look-alike, through a sweep and a real write', async () => {
      const out = await fresh();
      await fsp.mkdir(path.join(out, '.tmp-thesis-31337'));
      await fsp.writeFile(path.join(out, '.tmp-thesis-31337/f'), 'x');
      await fsp.mkdir(path.join(out, '.tmp-soup-0123456789abcdef'));
      await fsp.writeFile(path.join(out, '.tmp-soup-0123456789abcdef/chapter.tex'), 'mine');
      assert.deepEqual(await removeStaleTemps(out, { staleAfterMs: 0 }), []);
      await writeAtomically(out, 'soup', undefined, async (dir) => fsp.writeFile(path.join(dir, 'a'), 'b'));
      assert.equal(await fsp.readFile(path.join(out, '.tmp-thesis-31337/f'), 'utf8'), 'x');
      assert.equal(await fsp.readFile(path.join(out, '.tmp-soup-0123456789abcdef/chapter.tex'), 'utf8'), 'mine');
      assert.deepEqual((await fsp.readdir(path.join(out, 'soup'))).sort(), ['a'], 'the marker does not stay in the soup');
    });

    it('never follows a symlinked temp folder, even one pointing at a marked folder', async () => {
      const out = await fresh();
      const elsewhere = await fresh();
      const id = 'aaaaaaaaaaaaaaaa';
      await fsp.writeFile(path.join(elsewhere, TEMP_MARKER), marker(id, os.hostname(), ownPidNamespace(), deadPid()));
      await fsp.writeFile(path.join(elsewhere, 'data'), 'keep');
      await fsp.symlink(elsewhere, path.join(out, `.tmp-x-${id}`));
      assert.deepEqual(await removeStaleTemps(out, { staleAfterMs: 0 }), []);
      assert.equal(await fsp.readFile(path.join(elsewhere, 'data'), 'utf8'), 'keep');
    });

    it('removes our temp of a dead cook on this host at once, keeps a live one, and one from another host until it is old', async () => {
      const out = await fresh();
      const make = async (id: string, host: string, pid: number): Promise<void> => {
        const dir = path.join(out, `.tmp-soup-${id}`);
        await fsp.mkdir(dir);
        await fsp.writeFile(path.join(dir, 'soup.onnx'), 'partial');
        await fsp.writeFile(path.join(dir, TEMP_MARKER), marker(id, host, ownPidNamespace(), pid));
      };
      await make('1111111111111111', os.hostname(), deadPid());
      await make('2222222222222222', os.hostname(), process.pid);
      // PIDs of another host mean nothing here: its temp may be a live cook's.
      await make('3333333333333333', 'other-host', deadPid());
      assert.deepEqual(await removeStaleTemps(out), ['.tmp-soup-1111111111111111']);
      assert.deepEqual((await fsp.readdir(out)).sort(), ['.tmp-soup-2222222222222222', '.tmp-soup-3333333333333333']);
      assert.deepEqual(await removeStaleTemps(out, { now: Date.now() + STALE_TEMP_AGE_MS - HOUR }), [], 'not old enough yet');
      assert.deepEqual(await removeStaleTemps(out, { now: Date.now() + STALE_TEMP_AGE_MS + HOUR }), ['.tmp-soup-3333333333333333']);
    });

    it('does not recurse: a marked temp holding a sub-folder is left whole', async () => {
      const out = await fresh();
      const id = 'bbbbbbbbbbbbbbbb';
      const dir = path.join(out, `.tmp-soup-${id}`);
      await fsp.mkdir(path.join(dir, 'nested'), { recursive: true });
      await fsp.writeFile(path.join(dir, 'nested/keep'), 'k');
      await fsp.writeFile(path.join(dir, TEMP_MARKER), marker(id, os.hostname(), ownPidNamespace(), deadPid()));
      assert.deepEqual(await removeStaleTemps(out), []);
      assert.equal(await fsp.readFile(path.join(dir, 'nested/keep'), 'utf8'), 'k');
    });
  });

  describe('the output folder is checked before a cook', () => {
    it('refuses a folder under /proc, and a file, at once (WRITE_FAILED), and leaves no folder it created', async () => {
      await expectSoupError(() => checkOutputWritable('/proc/model-soups-out/x'), 'WRITE_FAILED', '/proc/model-soups-out', /cannot create the output folder/);
      const file = path.join(await fresh(), 'file');
      await fsp.writeFile(file, 'x');
      await expectSoupError(() => checkOutputWritable(path.join(file, 'out')), 'WRITE_FAILED', file, /not a folder/);
      const base = await fresh();
      await checkOutputWritable(path.join(base, 'a/b'));
      assert.deepEqual(await fsp.readdir(base), [], 'the check creates nothing that stays');
    });

    it('a cook into an unwritable output fails before loading anything', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['sweep-a02']);
      const file = path.join(ws, 'blocker');
      await fsp.writeFile(file, 'x');
      const phases: string[] = [];
      const plan = { workspace: ws, config: loadConfig(ws), method: 'uniform', outDir: path.join(file, 'out') };
      await expectSoupError(() => cookSoup(plan, { onProgress: (p) => phases.push(p.phase) }), 'WRITE_FAILED', file, /not a folder/);
      assert.ok(!phases.includes('load') && !phases.includes('evaluate'), `nothing loaded or evaluated (phases: ${phases.join(', ')})`);
    });
  });

  describe('dataset readers', () => {
    it('refuse a FIFO and /dev/zero, also behind a data/*.npz symlink, without blocking or reading', async function () {
      const dir = await fresh();
      const fifo = path.join(dir, 'pipe.npz');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      await fsp.symlink('/dev/zero', path.join(dir, 'zero.npz'));
      await fsp.symlink(fifo, path.join(dir, 'link.npz'));
      await expectSoupError(() => readInputFile(fifo, 'dataset file'), 'READ_FAILED', fifo, /is a FIFO \(named pipe\), not a regular file; refused/);
      await expectSoupError(() => loadDataset('heldout', 'zero.npz', dir, 1), 'READ_FAILED', path.join(dir, 'zero.npz'), /is a character device, not a regular file/);
      await expectSoupError(() => loadDataset('heldout', 'link.npz', dir, 1), 'READ_FAILED', path.join(dir, 'link.npz'), /FIFO/);
      await expectSoupError(() => loadDataset('heldout', { x: 'zero.npz', y: 'zero.npz' }, dir, 1), 'READ_FAILED', path.join(dir, 'zero.npz'), /character device/);
    });

    it('refuse modelsoups.json as a FIFO or a link to /dev/zero', async function () {
      const a = await fresh();
      if (spawnSync('mkfifo', [path.join(a, 'modelsoups.json')]).status !== 0) this.skip();
      await expectSoupError(async () => loadConfig(a), 'READ_FAILED', path.join(a, 'modelsoups.json'), /FIFO/);
      const b = await fresh();
      await fsp.symlink('/dev/zero', path.join(b, 'modelsoups.json'));
      await expectSoupError(async () => loadConfig(b), 'READ_FAILED', path.join(b, 'modelsoups.json'), /character device/);
    });

    it('check a member\'s declared size against the budget before inflating, and say how to raise it', async () => {
      const dir = await fresh();
      // 3 MiB of float32 zeros deflate to a few KB; the budget is 2 MiB.
      const n = 3 * 2 ** 18;
      const file = path.join(dir, 'zeros.npz');
      await fsp.writeFile(file, encodeZip([
        { name: 'x.npy', data: encodeNpy({ descr: '<f4', shape: [n, 1], data: new Uint8Array(n * 4) }), deflate: true },
        { name: 'y.npy', data: encodeNpy({ descr: '<i8', shape: [n], data: new Uint8Array(n * 8) }), deflate: true },
      ]));
      assert.ok((await fsp.stat(file)).size < 100_000);
      const before = process.memoryUsage().arrayBuffers;
      const err = await expectSoupError(() => loadDataset('heldout', 'zeros.npz', dir, 1, { maxDatasetMB: 2 }), 'TOO_LARGE', file, /archive member "x\.npy" .* over the dataset memory budget of 2\.0 MiB; raise it with --max-dataset-mb N .* modelSoups\.maxDatasetMB/);
      assert.ok(process.memoryUsage().arrayBuffers - before < 2 * 2 ** 20, 'nothing near the declared size was allocated');
      // The float32 copy is counted too: it fits a budget that holds the archive but not the copy.
      await expectSoupError(() => loadDataset('heldout', 'zeros.npz', dir, 1, { maxDatasetMB: 8 }), 'TOO_LARGE', file, /(x as float32|y as int32|archive member) .* budget of 8\.0 MiB/);
      assert.ok(err.problem.length < 400);
    });

    it('keep uint8 inputs as uint8 and convert them batch by batch', async () => {
      const dir = await fresh();
      const n = 2 ** 20; // 1 MiB of uint8 = 4 MiB as float32
      const bytes = new Uint8Array(n).map((_, i) => i % 256);
      await fsp.writeFile(path.join(dir, 'u8.npz'), encodeNpz({ 'x.npy': encodeNpy({ descr: '|u1', shape: [n / 4, 4], data: bytes }), 'y.npy': encodeNpy({ descr: '|i1', shape: [n / 4], data: new Uint8Array(n / 4) }) }));
      // File (1.25 MiB, stored) + y as int32 (1 MiB) fit 4 MiB; a whole float32 copy (4 MiB) would not.
      const ds = await loadDataset('heldout', 'u8.npz', dir, 0.5, { maxDatasetMB: 4 });
      assert.ok(ds.x instanceof Uint8Array);
      assert.deepEqual([...datasetBatch(ds, 1, 2)], [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5]);
    });

    it('stop on an aborted signal (every read is cancellable)', async () => {
      const dir = await fresh();
      await fsp.writeFile(path.join(dir, 'd.npz'), dataset([1, 2, 3, 4], [0, 1]));
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(readNpz(path.join(dir, 'd.npz'), ['x', 'y'], { signal: ac.signal }), (e: unknown) => (e as { code?: string }).code === 'CANCELLED');
    });

    it('refuse NaN and infinite inputs, counting the affected examples (also float64 overflowing float32)', async () => {
      const dir = await fresh();
      await fsp.writeFile(path.join(dir, 'nan.npz'), dataset([0, 1, NaN, 2, 3, Infinity, 5, NaN], [0, 1, 0, 1]));
      await expectSoupError(() => loadDataset('test', 'nan.npz', dir), 'DATASET_MISMATCH', path.join(dir, 'nan.npz'), /x holds 3 NaN or infinite values in 3 of 4 examples \(first: example 1\)/);
      await fsp.writeFile(path.join(dir, 'big.npz'), encodeNpz({ 'x.npy': encodeNpy({ descr: '<f8', shape: [1, 2], data: new Uint8Array(Float64Array.from([1e300, 0]).buffer) }), 'y.npy': encodeNpy({ descr: '<i8', shape: [1], data: i64([0]) }) }));
      await expectSoupError(() => loadDataset('test', 'big.npz', dir), 'DATASET_MISMATCH', path.join(dir, 'big.npz'), /1 NaN or infinite value in 1 of 1 examples/);
    });

    it('check int64 labels on the full 64-bit value: 2^32 + 3 is refused, not read as class 3', async () => {
      const dir = await fresh();
      await fsp.writeFile(path.join(dir, 'wrap.npz'), dataset([0, 0, 0, 0, 0, 0], [1, 2, 2 ** 32 + 3]));
      await expectSoupError(() => loadDataset('test', 'wrap.npz', dir), 'DATASET_MISMATCH', path.join(dir, 'wrap.npz'), /label 4294967299 at index 2 is out of range/);
    });
  });

  describe('config files', () => {
    it('bound nesting with a normal error (5,000 levels deep)', async () => {
      const dir = await fresh();
      await fsp.writeFile(path.join(dir, 'modelsoups.json'), `{"datasets": {"heldout": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
      await expectSoupError(async () => loadConfig(dir), 'CONFIG_INVALID', path.join(dir, 'modelsoups.json'), /nested deeper than 64 levels; refused/);
    });

    it('echo a bad value as a short prefix (a 1 MB array) and never quote the file on a syntax error', async () => {
      const dir = await fresh();
      await fsp.writeFile(path.join(dir, 'modelsoups.json'), JSON.stringify({ datasets: { heldout: new Array(200_000).fill(12345) } }));
      const err = await expectSoupError(async () => loadConfig(dir), 'CONFIG_INVALID', path.join(dir, 'modelsoups.json'), /"datasets\.heldout" must be .*got \[12345,12345.*… \(1200001 characters\)/);
      assert.ok(err.problem.length < 300, `${err.problem.length} characters`);
      await fsp.writeFile(path.join(dir, 'modelsoups.json'), 'root:$6$FAKEHASHsecret:19000:0:99999:7:::\n');
      const syntax = await expectSoupError(async () => loadConfig(dir), 'CONFIG_INVALID', path.join(dir, 'modelsoups.json'), /not valid JSON/);
      assert.doesNotMatch(syntax.message, /root|FAKE|secret/);
    });
  });

  describe('discovery stays in the workspace', () => {
    let outside: string;
    before(async () => {
      outside = await tempDir('soups-outside-');
      await copyFromExample(outside, ['sweep-a02']);
      await fsp.writeFile(path.join(outside, 'credentials.json'), JSON.stringify({ client_secret: 'hunter2', lr: 1 }));
      await fsp.writeFile(path.join(outside, 'shadow'), 'root:$6$FAKEHASH:19000:0:99999:7:::\n');
    });
    after(async () => {
      await fsp.rm(outside, { recursive: true, force: true });
    });

    it('does not follow links to /, /proc or outside folders, and says which links it skipped', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['runs/ft-07']);
      await fsp.symlink('/', path.join(ws, 'rootlink'));
      await fsp.symlink('/proc/self', path.join(ws, 'proclink'));
      await fsp.symlink(outside, path.join(ws, 'shared'));
      await fsp.symlink(path.join(ws, 'runs'), path.join(ws, 'inside'));
      const scan = await scanWorkspace(ws, loadConfig(ws));
      assert.deepEqual(scan.runs.map((r) => r.id), ['runs/ft-07'], 'the link inside the workspace is the same folder, visited once');
      const skipped = new Map((scan.skipped ?? []).map((s) => [s.path, s.reason]));
      assert.match(skipped.get('rootlink') ?? '', /^symlink to \/: outside the workspace and the allowed roots \(allowedRoots\); not followed$/);
      assert.match(skipped.get('proclink') ?? '', /\/proc, \/sys, \/dev are never scanned/);
      assert.match(skipped.get('shared') ?? '', /outside the workspace/);
      assert.equal(skipped.size, 3);
    });

    it('follows a link into an allowed root, but never into /proc even when / is allowed', async () => {
      const ws = await fresh();
      await fsp.symlink(outside, path.join(ws, 'shared'));
      await fsp.symlink('/proc/self', path.join(ws, 'proclink'));
      const config = { ...loadConfig(ws), allowedRoots: [outside, '/'] };
      const scan = await scanWorkspace(ws, config);
      assert.deepEqual(scan.runs.map((r) => `${r.id} ${r.status}`), ['shared/sweep-a02 ok']);
      assert.deepEqual(scan.skipped?.map((s) => s.path), ['proclink']);
    });

    it('reads metadata files only inside the run folder: linked credentials and /etc/shadow-like files never reach hparams or reasons', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['runs/ft-07', 'sweep-a02']);
      await fsp.rm(path.join(ws, 'runs/ft-07/training_args.json'), { force: true });
      await fsp.symlink(path.join(outside, 'credentials.json'), path.join(ws, 'runs/ft-07/training_args.json'));
      await fsp.rm(path.join(ws, 'sweep-a02/metrics.json'));
      await fsp.symlink(path.join(outside, 'shadow'), path.join(ws, 'sweep-a02/metrics.json'));
      const config = { ...loadConfig(ws), allowedRoots: [] };
      const scan = await scanWorkspace(ws, config);
      const ft07 = scan.runs.find((r) => r.id === 'runs/ft-07');
      const a02 = scan.runs.find((r) => r.id === 'sweep-a02');
      assert.equal(ft07?.status, 'ok');
      assert.ok(!('client_secret' in (ft07?.hparams ?? {})), 'no key of the linked file is read');
      assert.equal(a02?.status, 'unscored');
      assert.doesNotMatch(JSON.stringify(scan), /hunter2|FAKEHASH|root:/);
      // The links lead outside the workspace: the listing skips them and says so.
      assert.ok(scan.skipped?.some((s) => s.path === 'sweep-a02/metrics.json'));
    });

    it('a metrics file inside the run that is not JSON gives a reason without its content', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['sweep-a02']);
      await fsp.writeFile(path.join(ws, 'sweep-a02/metrics.json'), 'root:$6$FAKEHASH:19000:0:99999:7:::\n');
      const scan = await scanWorkspace(ws, loadConfig(ws));
      assert.match(scan.runs[0].reason ?? '', /^sweep-a02\/metrics\.json: not valid JSON/);
      assert.doesNotMatch(scan.runs[0].reason ?? '', /root|FAKEHASH/);
    });

    it('lists a folder whose name is not valid UTF-8 with the reason instead of dropping it', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['sweep-a02']);
      fs.mkdirSync(Buffer.concat([Buffer.from(`${ws}/run-`), Buffer.from([0xff, 0xfe])]));
      const scan = await scanWorkspace(ws, loadConfig(ws));
      assert.deepEqual(scan.skipped, [{ path: 'run-\\xff\\xfe', reason: 'the name is not valid UTF-8; rename it to scan it' }]);
    });
  });

  describe('a run whose graph onnxruntime cannot load', () => {
    it('is marked unreadable and the cook goes on with the others', async () => {
      const ws = await fresh();
      await copyFromExample(ws, ['sweep-a02', 'sweep-c09', 'data/heldout_val.npz']);
      await fsp.mkdir(path.join(ws, 'best'));
      // Same bytes with the Relu operators renamed: the scan parses it, onnxruntime refuses it.
      const model = await fsp.readFile(path.join(EXAMPLE, 'sweep-b05/model.onnx'));
      await fsp.writeFile(path.join(ws, 'best/model.onnx'), Buffer.from(model.toString('latin1').replaceAll('Relu', 'Zelu'), 'latin1'));
      await fsp.writeFile(path.join(ws, 'best/metrics.json'), JSON.stringify({ val_accuracy: 0.99 }));
      await fsp.mkdir(path.join(ws, 'best2'));
      await fsp.copyFile(path.join(ws, 'best/model.onnx'), path.join(ws, 'best2/model.onnx'));
      await fsp.writeFile(path.join(ws, 'best2/metrics.json'), JSON.stringify({ val_accuracy: 0.98 }));
      await fsp.writeFile(path.join(ws, 'modelsoups.json'), JSON.stringify({ datasets: { heldout: 'data/heldout_val.npz' }, threads: 1 }));
      const before = await scanWorkspace(ws, loadConfig(ws));
      assert.deepEqual(before.runs.slice(0, 2).map((r) => r.status), ['ok', 'ok'], 'the scan cannot tell');
      const { report } = await cookSoup({ workspace: ws, config: loadConfig(ws), method: 'uniform', outDir: path.join(ws, 'out'), name: 'u' });
      assert.deepEqual([...report.soup.members].sort(), ['sweep-a02', 'sweep-c09']);
      for (const id of ['best', 'best2']) {
        const ing = report.ingredients.find((i) => i.id === id);
        assert.equal(ing?.status, 'unreadable');
        assert.match(ing?.reason ?? '', /onnxruntime cannot load the model/);
      }
      assert.ok(report.warnings?.some((w) => /best: onnxruntime cannot load the model.*cooking without the runs of that architecture/.test(w)));
    });
  });
});
