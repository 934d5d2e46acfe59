import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defaultConfig } from '../../src/engine/config';
import { scanRuns } from '../../src/engine/discovery/scanRuns';
import { scanWorkspace } from '../../src/engine/discovery/scanWorkspace';
import { SoupError } from '../../src/engine/errors';

// out/test/unit -> repository root
const example = path.resolve(__dirname, '..', '..', '..', 'examples', 'fashion-soup');

const TOTAL_FILES = 50_000;
const DEEP_LEVELS = 400;
// A generous bound: the test is about the scan never holding the event loop, not a benchmark
// (the machine is shared, so a GC pause or a busy neighbour must not fail it).
const MAX_GAP_MS = 250;

interface Tree {
  root: string;
  files: number;
  dirs: number;
  links: number;
  runIds: string[];
}

/**
 * 50 000 regular files: a 400-level chain (2 files per level), a wide part of 100 × 10 folders,
 * five planted plain runs (a real model.onnx + metrics.json), and symlink loops of every kind
 * (to an ancestor, to itself, to the root by absolute path, two links pointing at each other,
 * a link to a link to an ancestor).
 */
function buildTree(): Tree {
  const root = mkdtempSync(path.join(tmpdir(), 'soup-bigtree-'));
  let files = 0;
  let dirs = 0;
  let links = 0;
  const file = (p: string, body = 'x'): void => {
    writeFileSync(p, body);
    files++;
  };
  const dir = (p: string): string => {
    mkdirSync(p, { recursive: true });
    dirs++;
    return p;
  };
  const link = (target: string, at: string): void => {
    symlinkSync(target, at);
    links++;
  };
  const run = (at: string): string => {
    dir(at);
    copyFileSync(path.join(example, 'sweep-c09', 'model.onnx'), path.join(at, 'model.onnx'));
    files++;
    file(path.join(at, 'metrics.json'), JSON.stringify({ val_accuracy: 0.5 + runIds.length / 100 }));
    const id = path.relative(root, at).split(path.sep).join('/');
    runIds.push(id);
    return id;
  };
  const runIds: string[] = [];

  // Deep chain: deep/l0/l1/.../l399, two files per level; a run at the bottom and one half way.
  let d = dir(path.join(root, 'deep'));
  for (let i = 0; i < DEEP_LEVELS; i++) {
    d = dir(path.join(d, `l${i}`));
    file(path.join(d, 'notes.txt'));
    file(path.join(d, 'data.bin'));
    if (i === DEEP_LEVELS / 2) run(path.join(d, 'run-mid'));
    if (i % 50 === 0) link('..', path.join(d, 'up')); // loop to the parent
    if (i % 80 === 0) link(root, path.join(d, 'to-root')); // absolute loop to the top
  }
  run(path.join(d, 'run-bottom'));
  link('.', path.join(d, 'self'));
  link('../../..', path.join(d, 'three-up'));

  // Wide part: 100 × 10 folders, filled up to TOTAL_FILES.
  dir(path.join(root, 'wide'));
  for (let a = 0; a < 100; a++) {
    const wa = dir(path.join(root, 'wide', `w${a}`));
    if (a % 10 === 0) link('..', path.join(wa, 'back'));
    for (let b = 0; b < 10; b++) dir(path.join(wa, `s${b}`));
  }
  run(path.join(root, 'wide', 'w42', 's7', 'run-wide'));
  run(path.join(root, 'wide', 'w99', 's0', 'run-a'));
  run(path.join(root, 'wide', 'w0', 's9', 'run-b'));

  // Links that point at each other (ELOOP when followed), and a chain of links to an ancestor.
  link(path.join(root, 'pong'), path.join(root, 'ping'));
  link(path.join(root, 'ping'), path.join(root, 'pong'));
  link('wide', path.join(root, 'alias1'));
  link('alias1', path.join(root, 'alias2'));
  link('../../..', path.join(root, 'wide', 'w5', 's5', 'grand'));

  const remaining = TOTAL_FILES - files;
  for (let i = 0; i < remaining; i++) {
    const a = i % 100;
    const b = Math.floor(i / 100) % 10;
    file(path.join(root, 'wide', `w${a}`, `s${b}`, `f${i}.txt`));
  }
  return { root, files, dirs, links, runIds: runIds.sort() };
}

/** Runs `fn` while a 10 ms interval measures how late the event loop lets it fire. */
async function withTicker<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; maxGapMs: number; ticks: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  const started = performance.now();
  try {
    const value = await fn();
    const end = performance.now();
    maxGapMs = Math.max(maxGapMs, end - last);
    return { value, ms: end - started, maxGapMs, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('scanning a 50 000-file tree with deep nesting and symlink loops', function () {
  this.timeout(300_000);
  let tree: Tree;

  before(() => {
    const t = performance.now();
    tree = buildTree();
    console.log(`      built ${tree.files} files, ${tree.dirs} folders, ${tree.links} symlinks in ${((performance.now() - t) / 1000).toFixed(1)} s (${tree.root})`);
  });

  after(() => {
    if (tree) rmSync(tree.root, { recursive: true, force: true });
  });

  it('finishes, finds exactly the planted runs, and never blocks the event loop for long', async () => {
    assert.equal(tree.files, TOTAL_FILES);
    let folders = 0;
    const r = await withTicker(() => scanRuns(tree.root, { onProgress: (n) => (folders = n) }));
    console.log(
      `      scanRuns: ${folders} folders in ${(r.ms / 1000).toFixed(2)} s; ` +
        `event loop: max gap ${r.maxGapMs.toFixed(1)} ms over ${r.ticks} ticks of 10 ms`,
    );
    assert.deepEqual(
      r.value.map((x) => x.id),
      tree.runIds,
    );
    assert.ok(r.value.every((x) => x.status === 'ok'), JSON.stringify(r.value.map((x) => [x.id, x.status, x.reason])));
    // Each real folder is listed once; loops and aliases add nothing (plus the root and the run folders).
    assert.ok(folders <= tree.dirs + 1, `${folders} folders visited for ${tree.dirs} real ones: a loop was followed`);
    assert.ok(r.maxGapMs < MAX_GAP_MS, `the event loop was blocked for ${r.maxGapMs.toFixed(0)} ms`);
  });

  it('scanWorkspace (scan plus model structure) finishes on the same tree without blocking', async () => {
    const r = await withTicker(() => scanWorkspace(tree.root, defaultConfig()));
    console.log(`      scanWorkspace: ${(r.ms / 1000).toFixed(2)} s; event loop: max gap ${r.maxGapMs.toFixed(1)} ms`);
    assert.deepEqual(
      r.value.runs.map((x) => x.id).sort(),
      tree.runIds,
    );
    assert.equal(r.value.groups.length, 1);
    assert.ok(r.maxGapMs < MAX_GAP_MS, `the event loop was blocked for ${r.maxGapMs.toFixed(0)} ms`);
  });

  it('stops promptly with CANCELLED when aborted mid-scan', async () => {
    const abort = new AbortController();
    let abortedAt = 0;
    let foldersAtAbort = 0;
    let foldersAfter = 0;
    const r = await withTicker(async () => {
      try {
        await scanRuns(tree.root, {
          signal: abort.signal,
          onProgress: (n) => {
            foldersAfter = n;
            if (n === 500 && !abort.signal.aborted) {
              foldersAtAbort = n;
              abortedAt = performance.now();
              // Aborted from a timer, as the UI does, not from inside the scan's own call.
              setTimeout(() => abort.abort(), 0);
            }
          },
        });
        return undefined;
      } catch (err) {
        return err;
      }
    });
    const stopMs = performance.now() - abortedAt;
    console.log(`      cancelled after ${foldersAtAbort} folders: stopped ${stopMs.toFixed(1)} ms later, ${foldersAfter - foldersAtAbort} folders after the abort`);
    assert.ok(r.value instanceof SoupError, `expected a SoupError, got ${String(r.value)}`);
    assert.equal(r.value.code, 'CANCELLED');
    assert.ok(stopMs < 1000, `took ${stopMs.toFixed(0)} ms to stop`);
    assert.ok(foldersAfter - foldersAtAbort < 100, `${foldersAfter - foldersAtAbort} folders scanned after the abort`);
  });

  it('is cancelled by an abort that comes from a timer at an arbitrary moment', async () => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 150);
    const started = performance.now();
    const err = await scanRuns(tree.root, { signal: abort.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    clearTimeout(timer);
    const ms = performance.now() - started;
    console.log(`      abort at 150 ms: the scan ended at ${ms.toFixed(0)} ms`);
    assert.ok(err instanceof SoupError && err.code === 'CANCELLED', String(err));
    assert.ok(ms < 1150, `ended after ${ms.toFixed(0)} ms`);
  });
});
