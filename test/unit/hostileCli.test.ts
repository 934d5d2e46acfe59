/**
 * The CLI against hostile folders (issue 14): what reaches the terminal, and what a fault
 * leaves behind. Drives the built CLI (`npm run build` first).
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TEMP_MARKER } from '../../src/engine/soupOutput';
import { caseFolders, copyFromExample, EXAMPLE, REPO } from './helpers/paths';

const BIN = path.join(REPO, 'bin', 'model-soup.js');
const HOSTILE_NAME = 'esc\u001b]0;PWNED\u0007\u001b[2J';

function run(args: string[], opts: { uid?: number } = {}): SpawnSyncReturns<string> & { code: number | null } {
  const cmd = opts.uid === undefined ? [process.execPath, BIN, ...args] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', process.execPath, BIN, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 120_000 });
  return Object.assign(r, { code: r.status });
}

/** Control characters a terminal acts on (tab and line feed only where the CLI itself writes them). */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('model-soup CLI on hostile folders', function () {
  this.timeout(240_000);
  before(function () {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  });
  const { fresh, root } = caseFolders('soups-hostile-cli-');

  it('escapes control characters of run names in the scan table, the cook progress and the results; no onnxruntime log is left in /tmp', async () => {
    const ws = await fresh();
    await copyFromExample(ws, ['sweep-a02', 'data/heldout_val.npz']);
    for (const name of [HOSTILE_NAME, 'tab\there', 'line\nbreak']) await fsp.cp(path.join(ws, 'sweep-a02'), path.join(ws, name), { recursive: true });
    await fsp.writeFile(path.join(ws, 'modelsoups.json'), JSON.stringify({ datasets: { heldout: 'data/heldout_val.npz' }, threads: 1 }));

    const scan = run(['scan', ws]);
    assert.equal(scan.code, 0, scan.stderr);
    assert.doesNotMatch(scan.stdout.replaceAll('\n', ''), RAW_CONTROL);
    assert.ok(scan.stdout.includes('esc\\x1b]0;PWNED\\x07\\x1b[2J'), scan.stdout);
    const rows = scan.stdout.split('\n').filter((l) => / ok /.test(l));
    assert.equal(rows.length, 4, 'one line per run: a newline in a name does not split its row');
    assert.ok(rows.some((l) => l.includes('line\\nbreak')) && rows.some((l) => l.includes('tab\\there')));

    const cook = run(['cook', ws, '--method', 'uniform', '--out', path.join(ws, 'out')]);
    assert.equal(cook.code, 0, cook.stderr);
    assert.doesNotMatch(cook.stderr.replaceAll('\n', ''), RAW_CONTROL);
    assert.doesNotMatch(cook.stdout.replaceAll('\n', ''), RAW_CONTROL);
    assert.match(cook.stderr, /evaluated esc\\x1b\]0;PWNED\\x07\\x1b\[2J/);
    assert.match(cook.stdout, /Soup members \(4\):.*esc\\x1b/);
    assert.ok(!fs.existsSync(`/tmp/mat-debug-${cook.pid}.log`), 'onnxruntime telemetry left its log file');
  });

  it('a SIGKILL during the write leaves a marked temp that the next scan removes, and nothing else is touched', async () => {
    const ws = await fresh();
    const out = path.join(ws, '.soups');
    await fsp.mkdir(path.join(out, '.tmp-thesis-31337'), { recursive: true });
    await fsp.writeFile(path.join(out, '.tmp-thesis-31337', 'f'), 'x');
    // A real process killed mid-write: it fills the temp folder with a complete soup.onnx, then waits.
    const soupOutput = path.join(REPO, 'out', 'src', 'engine', 'soupOutput.js');
    const script = `require(${JSON.stringify(soupOutput)}).writeAtomically(${JSON.stringify(out)}, 'killed', undefined, async (tmp) => {
      require('fs').copyFileSync(${JSON.stringify(path.join(EXAMPLE, 'sweep-a02/model.onnx'))}, tmp + '/soup.onnx');
      console.log('filled');
      await new Promise(() => setInterval(() => {}, 1000));
    });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('filled') && resolve());
      child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const left = (await fsp.readdir(out)).filter((e) => e.startsWith('.tmp-killed-'));
    assert.equal(left.length, 1, 'the kill leaves one temp folder');
    assert.deepEqual((await fsp.readdir(path.join(out, left[0]))).sort(), [TEMP_MARKER, 'soup.onnx']);

    const scan = run(['scan', ws]);
    assert.equal(scan.code, 0, scan.stderr);
    assert.match(scan.stderr, /removed 1 temp folder left by a killed cook: \.tmp-killed-[0-9a-f]{16}/);
    assert.deepEqual(await fsp.readdir(out), ['.tmp-thesis-31337'], 'only our temp is gone');
    assert.equal(await fsp.readFile(path.join(out, '.tmp-thesis-31337', 'f'), 'utf8'), 'x');
  });

  it('lists a folder it cannot read with the reason (run as an unprivileged user)', async function () {
    const ws = await fresh();
    await copyFromExample(ws, ['sweep-a02']);
    await fsp.mkdir(path.join(ws, 'locked'));
    await fsp.chmod(path.join(ws, 'locked'), 0o000);
    for (let d = ws; d !== path.dirname(root()); d = path.dirname(d)) await fsp.chmod(d, 0o755);
    await fsp.chmod(path.join(ws, 'sweep-a02'), 0o755);
    const asNobody = process.getuid?.() === 0;
    if (asNobody && spawnSync('setpriv', ['--version']).status !== 0) this.skip();
    const r = run(['scan', ws], asNobody ? { uid: 65534 } : {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Not scanned \(1\):\n {2}locked: cannot be listed \(EACCES\)/);
    assert.match(r.stdout, /sweep-a02/);
  });

  it('answers a config nested 5,000 deep, a FIFO config and an unwritable output with one line each, before any work', async function () {
    const deep = await fresh();
    await fsp.writeFile(path.join(deep, 'modelsoups.json'), `{"include": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
    const r1 = run(['scan', deep]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^\nmodel-soup: error: .*modelsoups\.json: nested deeper than 64 levels; refused\n$/);

    const out = await fresh();
    await copyFromExample(out, ['sweep-a02', 'data/heldout_val.npz']);
    await fsp.writeFile(path.join(out, 'modelsoups.json'), JSON.stringify({ datasets: { heldout: 'data/heldout_val.npz' } }));
    const r2 = run(['cook', out, '--out', '/proc/model-soups-out']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /model-soup: error: \/proc\/model-soups-out: cannot create the output folder/);
    assert.doesNotMatch(r2.stderr, /\[(load|evaluate)\]/, 'nothing was evaluated first');

    const r3 = run(['cook', out, '--max-dataset-mb', '1']);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /heldout_val\.npz: .*over the dataset memory budget of 1\.0 MiB; raise it with --max-dataset-mb N/);

    const fifo = await fresh();
    if (spawnSync('mkfifo', [path.join(fifo, 'modelsoups.json')]).status !== 0) this.skip();
    const r4 = run(['scan', fifo]);
    assert.equal(r4.code, 1);
    assert.match(r4.stderr, /modelsoups\.json: is a FIFO \(named pipe\), not a regular file; refused/);
  });
});
