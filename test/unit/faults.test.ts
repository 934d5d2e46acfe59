/**
 * Faults during a cook, at engine level: the CLI killed with SIGKILL mid-soup, an output that
 * cannot be written, ingredients changed or deleted while the cook runs, two cooks into the same
 * folder at once, and a zoo that is read-only. Every test works on a copy of
 * examples/fashion-soup in a temp folder.
 *
 * Read-only as root: root ignores permission bits, so the read-only zoo is also made immutable
 * with `chattr -R +i` (ext4 honours it for root); write failures are made real the same way,
 * with an output path that is a file, and by simulating ENOSPC on the report write.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import type { CookProgress } from '../../src/engine/cookPlan';
import { cookSoup } from '../../src/engine/cookSoup';
import type { CookResult } from '../../src/engine/cookSoup';
import { SoupError } from '../../src/engine/errors';
import { readNpz } from '../../src/engine/formats/npz';
import { readOnnxModel } from '../../src/engine/formats/onnxModel';
import { TEMP_MARKER } from '../../src/engine/soupOutput';
import { encodeNpy, encodeZip } from './fuzz/builders';
import { assertTypedError } from './fuzz/outcome';

const REPO = path.resolve(__dirname, '../../..');
const ZOO = path.join(REPO, 'examples/fashion-soup');
const CLI = path.join(REPO, 'bin/model-soup.js');
/** The runs of the small zoo: ordered by held-out accuracy, ft-07 first and sweep-b05 last. */
const SMALL_RUNS = ['runs/ft-07', 'sweep-c09', 'sweep-a02', 'sweep-b05'];
const ROUND_TIME = 1_700_000_000; // whole seconds: utimes restores it exactly

interface FileState {
  size: number;
  mtimeMs: number;
  sha256: string;
}

async function snapshot(root: string): Promise<Map<string, FileState>> {
  const out = new Map<string, FileState>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await fsp.stat(p);
        out.set(path.relative(root, p), { size: st.size, mtimeMs: st.mtimeMs, sha256: createHash('sha256').update(await fsp.readFile(p)).digest('hex') });
      }
    }
  };
  await walk(root);
  return out;
}

/** Everything under `dir` (relative paths), or [] when it does not exist. */
async function listAll(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.map(String).sort();
}

async function makeWritable(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
  spawnSync('chmod', ['-R', 'u+w', dir], { stdio: 'ignore' });
}

/** Copies the whole example zoo; the config keeps only the held-out set (the other sets add time, not coverage). */
async function fullZoo(dest: string): Promise<string> {
  await fsp.cp(ZOO, dest, { recursive: true });
  await makeWritable(dest);
  const cfg = JSON.parse(await fsp.readFile(path.join(ZOO, 'modelsoups.json'), 'utf8')) as { datasets: Record<string, unknown> };
  cfg.datasets = { heldout: cfg.datasets.heldout };
  await fsp.writeFile(path.join(dest, 'modelsoups.json'), JSON.stringify(cfg, null, 2));
  return dest;
}

let smallHeldout: Buffer | undefined;

/** Four real runs and the first 400 held-out examples: a real cook in a couple of seconds. */
async function smallZoo(dest: string): Promise<string> {
  for (const run of SMALL_RUNS) await fsp.cp(path.join(ZOO, run), path.join(dest, run), { recursive: true });
  if (!smallHeldout) {
    const { x, y } = await readNpz(path.join(ZOO, 'data/heldout_val.npz'), ['x', 'y']);
    const keep = 400;
    const descr = (d: string, size: number) => `${size === 1 ? '|' : '<'}${d}`;
    const xItem = x.data.length / x.shape.reduce((a, b) => a * b, 1);
    const yItem = y.data.length / y.shape[0];
    const xPer = x.data.length / x.shape[0];
    smallHeldout = encodeZip([
      { name: 'x.npy', data: encodeNpy({ descr: descr(x.dtype, xItem), shape: [keep, ...x.shape.slice(1)], data: x.data.subarray(0, keep * xPer) }), deflate: true },
      { name: 'y.npy', data: encodeNpy({ descr: descr(y.dtype, yItem), shape: [keep], data: y.data.subarray(0, keep * yItem) }) },
    ]);
  }
  await fsp.mkdir(path.join(dest, 'data'), { recursive: true });
  await fsp.writeFile(path.join(dest, 'data/heldout.npz'), smallHeldout);
  await fsp.writeFile(path.join(dest, 'modelsoups.json'), JSON.stringify({ datasets: { heldout: 'data/heldout.npz' }, threads: 1 }, null, 2));
  await makeWritable(dest);
  return dest;
}

async function cook(ws: string, opts: { name?: string; outDir?: string; method?: string; onProgress?: (p: CookProgress) => void } = {}): Promise<CookResult> {
  return cookSoup(
    { workspace: ws, config: loadConfig(ws), method: opts.method ?? 'greedy', name: opts.name ?? 'soup', outDir: opts.outDir },
    { onProgress: opts.onProgress },
  );
}

async function expectCookError(p: Promise<unknown>, codes: SoupError['code'][], file: string): Promise<SoupError> {
  const err = await p.then(
    () => assert.fail(`expected ${codes.join('|')} naming ${file}, but the cook succeeded`),
    (e: unknown) => e,
  );
  assertTypedError(err, file, codes);
  return err;
}

/** Resolves with the first stderr line matching `re`; rejects if the process exits first. */
function waitForLine(child: ChildProcess, re: RegExp, seen: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        seen.push(line);
        if (re.test(line)) {
          child.stderr?.off('data', onData);
          child.off('exit', onExit);
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`CLI exited (${code}) before printing ${re}; stderr:\n${seen.join('\n')}${buffered}`));
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('faults during a cook', function () {
  this.timeout(240_000);
  let tmp: string;
  let k = 0;
  const fresh = (): string => path.join(tmp, `case${k++}`);
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'soup-faults-'));
  });
  after(async () => {
    await makeWritable(tmp);
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  describe('SIGKILL during the soup phase', () => {
    it('leaves no soup folder (at most a hidden temp), and the next cook removes a stale temp and succeeds', async () => {
      assert.ok(fs.existsSync(path.join(REPO, 'dist/cli.js')), 'run `npm run build` first: the test drives the built CLI');
      const ws = await fullZoo(fresh());
      const out = path.join(ws, 'out');
      const child = spawn(process.execPath, [CLI, 'cook', ws, '--method', 'greedy', '--out', out, '--name', 'killed'], { stdio: ['ignore', 'ignore', 'pipe'] });
      const seen: string[] = [];
      try {
        // Progress goes to stderr one line per event when it is not a terminal: "[soup] greedy: 1/12 ...".
        await waitForLine(child, /^\[soup\] greedy: 1\//, seen);
        child.kill('SIGKILL');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      const { signal } = await exited(child);
      assert.equal(signal, 'SIGKILL');
      assert.ok(!seen.some((l) => l.startsWith('[write]')), 'killed before the write phase');
      const left = (await fsp.readdir(out).catch(() => [] as string[])).filter((e) => !e.startsWith('.tmp-'));
      assert.deepEqual(left, [], 'no soup folder after a kill');

      // A kill during the write leaves the marked temp folder of a dead process: make one, as it would be.
      const cookId = '0123456789abcdef';
      const stale = path.join(out, `.tmp-killed-${cookId}`);
      await fsp.mkdir(stale, { recursive: true });
      await fsp.writeFile(path.join(stale, 'soup.onnx'), (await fsp.readFile(path.join(ws, 'sweep-a02/model.onnx'))).subarray(0, 1000));
      const pidNamespace = fs.readlinkSync('/proc/self/ns/pid');
      await fsp.writeFile(path.join(stale, TEMP_MARKER), JSON.stringify({ tool: 'model-soups', cookId, host: os.hostname(), pidNamespace, pid: child.pid, createdAt: new Date().toISOString() }));
      const { dir, report } = await cook(ws, { name: 'killed', outDir: out });
      assert.equal(dir, path.join(out, 'killed'));
      assert.deepEqual(await fsp.readdir(out), ['killed'], 'the stale temp is gone');
      assert.deepEqual((await fsp.readdir(dir)).sort(), ['report.json', 'soup.onnx']);
      assert.ok(report.soup.members.length >= 1);
      const soup = await readOnnxModel(path.join(dir, 'soup.onnx'));
      assert.equal(soup.weights.length, 8);
    });
  });

  describe('output write failures', () => {
    it('an output path that is a file: WRITE_FAILED naming it, the file untouched, nothing written', async () => {
      const ws = await smallZoo(fresh());
      const blocker = path.join(ws, 'out-is-a-file');
      await fsp.writeFile(blocker, 'not a folder');
      await expectCookError(cook(ws, { outDir: blocker }), ['WRITE_FAILED'], blocker);
      assert.equal(await fsp.readFile(blocker, 'utf8'), 'not a folder');
      assert.deepEqual((await listAll(ws)).filter((p) => /soup\.onnx|report\.json|\.tmp-/.test(p)), []);
    });

    it('an output folder that refuses new entries (chattr +i): WRITE_FAILED naming it before the cook, nothing written', async function () {
      const ws = await smallZoo(fresh());
      const out = path.join(ws, 'out');
      await fsp.mkdir(out);
      if (spawnSync('chattr', ['+i', out]).status !== 0) this.skip();
      try {
        const phases: string[] = [];
        const err = await expectCookError(cook(ws, { outDir: out, name: 'blocked', onProgress: (p) => phases.push(p.phase) }), ['WRITE_FAILED'], out);
        assert.match(err.problem, /the output folder cannot be written \(EPERM\); nothing was cooked/);
        assert.ok(!phases.includes('evaluate'), 'found before the evaluation');
        assert.deepEqual(await fsp.readdir(out), []);
      } finally {
        spawnSync('chattr', ['-i', out]);
      }
    });

    it('a write failing after soup.onnx was written (simulated ENOSPC on report.json): no partial soup.onnx or report.json', async () => {
      const ws = await smallZoo(fresh());
      const out = path.join(ws, 'out');
      const original = fs.promises.writeFile;
      let failedAt: string | undefined;
      (fs.promises as { writeFile: unknown }).writeFile = async (file: fs.PathLike | fsp.FileHandle, ...rest: unknown[]) => {
        if (typeof file === 'string' && file.endsWith('report.json')) {
          // soup.onnx must already be in the temp folder: the failure is mid-write.
          assert.ok(fs.existsSync(path.join(path.dirname(file), 'soup.onnx')));
          failedAt = file;
          throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC' });
        }
        return (original as (...a: unknown[]) => Promise<void>)(file, ...rest);
      };
      let err: SoupError;
      try {
        err = await expectCookError(cook(ws, { outDir: out, name: 'full' }), ['WRITE_FAILED'], path.join(out, 'full'));
      } finally {
        (fs.promises as { writeFile: unknown }).writeFile = original;
      }
      assert.ok(failedAt, 'the simulated failure was reached');
      assert.match(err.problem, /ENOSPC/);
      assert.deepEqual(await listAll(out), [], 'no soup folder, no temp folder, no partial files');
    });
  });

  describe('ingredients changed during the cook', () => {
    /** A rewrite of `file` with different weights but the same size, then its old mtime restored. */
    async function sameSizeRewrite(file: string): Promise<() => void> {
      const info = await readOnnxModel(file);
      const w = info.weights[0].data;
      assert.equal(w.kind, 'inline');
      return () => {
        const bytes = fs.readFileSync(file);
        bytes.fill(0x3e, w.offset, w.offset + w.length);
        fs.writeFileSync(file, bytes);
        fs.utimesSync(file, ROUND_TIME, ROUND_TIME);
      };
    }

    async function pinTimes(ws: string): Promise<void> {
      for (const run of SMALL_RUNS) await fsp.utimes(path.join(ws, run, 'model.onnx'), ROUND_TIME, ROUND_TIME);
    }

    it('a same-size, same-mtime content change mid-soup is caught by the re-hash: INGREDIENT_CHANGED, nothing written', async () => {
      const ws = await smallZoo(fresh());
      await pinTimes(ws);
      const victim = path.join(ws, 'sweep-b05/model.onnx');
      const before = await fsp.stat(victim);
      const rewrite = await sameSizeRewrite(victim);
      let changed = false;
      const out = path.join(ws, 'out');
      const err = await expectCookError(
        cook(ws, {
          outDir: out,
          onProgress: (p) => {
            if (!changed && p.phase === 'soup' && p.message.startsWith('greedy: 1/')) {
              rewrite();
              changed = true;
            }
          },
        }),
        ['INGREDIENT_CHANGED'],
        victim,
      );
      assert.ok(changed);
      const after = await fsp.stat(victim);
      assert.equal(after.size, before.size);
      assert.equal(after.mtimeMs, before.mtimeMs, 'size and mtime alone cannot see this change');
      assert.match(err.problem, /SHA-256/);
      assert.deepEqual(await listAll(out), []);
    });

    it('a file that grows mid-soup: INGREDIENT_CHANGED naming it, nothing written', async () => {
      const ws = await smallZoo(fresh());
      const victim = path.join(ws, 'sweep-b05/model.onnx');
      let changed = false;
      const out = path.join(ws, 'out');
      await expectCookError(
        cook(ws, {
          outDir: out,
          onProgress: (p) => {
            if (!changed && p.phase === 'soup') {
              fs.appendFileSync(victim, Buffer.alloc(16));
              changed = true;
            }
          },
        }),
        ['INGREDIENT_CHANGED'],
        victim,
      );
      assert.deepEqual(await listAll(out), []);
    });

    it('a file deleted after its last read (uniform soup): INGREDIENT_CHANGED naming it, nothing written', async () => {
      const ws = await smallZoo(fresh());
      const victim = path.join(ws, 'sweep-b05/model.onnx');
      let changed = false;
      const out = path.join(ws, 'out');
      await expectCookError(
        cook(ws, {
          outDir: out,
          method: 'uniform',
          onProgress: (p) => {
            if (!changed && p.phase === 'soup' && p.message.startsWith(`uniform: ${SMALL_RUNS.length}/`)) {
              fs.unlinkSync(victim);
              changed = true;
            }
          },
        }),
        ['INGREDIENT_CHANGED'],
        victim,
      );
      assert.ok(changed);
      assert.deepEqual(await listAll(out), []);
    });

    it('a file deleted mid-greedy, before it is read again: INGREDIENT_CHANGED naming it, nothing written', async () => {
      const ws = await smallZoo(fresh());
      const victim = path.join(ws, 'sweep-b05/model.onnx');
      let changed = false;
      const out = path.join(ws, 'out');
      // The next read of the missing file fails first (READ_FAILED, "cannot open (ENOENT)"); a
      // deletion the reads do not see is caught before writing (INGREDIENT_CHANGED).
      const err = await expectCookError(
        cook(ws, {
          outDir: out,
          onProgress: (p) => {
            if (!changed && p.phase === 'soup' && p.message.startsWith('greedy: 1/')) {
              fs.unlinkSync(victim);
              changed = true;
            }
          },
        }),
        ['INGREDIENT_CHANGED'],
        victim,
      );
      assert.match(err.problem, /disappeared during the cook/);
      assert.deepEqual(await listAll(out), []);
    });
  });

  describe('two cooks at once', () => {
    it('two cookSoup calls with the same output folder and name both complete, into separate folders', async () => {
      const ws = await smallZoo(fresh());
      const out = path.join(ws, 'out');
      const results = await Promise.allSettled([cook(ws, { outDir: out, name: 'twin' }), cook(ws, { outDir: out, name: 'twin' })]);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      assert.deepEqual(failures, [], 'both cooks complete');
      const dirs = results.map((r) => (r as PromiseFulfilledResult<CookResult>).value.dir).sort();
      assert.deepEqual(dirs, [path.join(out, 'twin'), path.join(out, 'twin-2')]);
      assert.deepEqual(await fsp.readdir(out).then((e) => e.sort()), ['twin', 'twin-2'], 'no temp folders left');
      for (const r of results) {
        const { dir, report } = (r as PromiseFulfilledResult<CookResult>).value;
        assert.equal(report.name, path.basename(dir));
        assert.deepEqual((await fsp.readdir(dir)).sort(), ['report.json', 'soup.onnx']);
        const written = JSON.parse(await fsp.readFile(path.join(dir, 'report.json'), 'utf8')) as { name: string };
        assert.equal(written.name, path.basename(dir));
      }
    });
  });

  describe('read-only zoo', () => {
    it('cooks from a zoo made read-only (chmod -R a-w, plus chattr -R +i for root) without changing any byte or mtime', async () => {
      const ws = await smallZoo(fresh());
      const out = path.join(tmp, `ro-out-${k++}`);
      assert.equal(spawnSync('chmod', ['-R', 'a-w', ws]).status, 0);
      const immutable = spawnSync('chattr', ['-R', '+i', ws]).status === 0;
      try {
        if (immutable) {
          // Proof that the protection holds even for root.
          assert.throws(() => fs.writeFileSync(path.join(ws, 'sweep-a02/model.onnx'), 'x'), /EPERM|EACCES/);
        }
        const before = await snapshot(ws);
        const { dir, report } = await cook(ws, { outDir: out, name: 'ro' });
        assert.deepEqual(await snapshot(ws), before, 'no ingredient byte or mtime changed');
        assert.deepEqual((await fsp.readdir(dir)).sort(), ['report.json', 'soup.onnx']);
        for (const ing of report.ingredients.filter((i) => i.sha256)) {
          assert.equal(ing.sha256, before.get(ing.model.split('/').join(path.sep))?.sha256, `report hash of ${ing.id}`);
        }
      } finally {
        await makeWritable(ws);
      }
    });
  });
});
