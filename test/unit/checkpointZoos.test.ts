import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/engine/config';
import { cookSoup } from '../../src/engine/cookSoup';
import type { SoupReport } from '../../src/engine/report';
import { REPO, tempDir } from './helpers/paths';

type Counts = Record<string, number>;

/** The parts of a checkpoint zoo's expected.json these tests compare against. */
interface ZooExpected {
  ingredients: { id: string; source?: string; correct: Counts }[];
  sorted_by_heldout: string[];
  greedy_soup: { members: string[]; correct: Counts; steps: { candidate: string; candidate_soup_heldout_correct: number; accepted: boolean }[] };
  uniform_soup: { members: string[]; correct: Counts };
  ensemble: { members: string[]; logits_mean: { correct: Counts } };
}

const CKPT = path.join(REPO, 'test', 'fixtures', 'fashion-ckpt');
const TRACKERS = path.join(REPO, 'test', 'fixtures', 'fashion-trackers');

function readExpected(zoo: string): { expected: ZooExpected; runId: (id: string) => string } {
  const expected = JSON.parse(readFileSync(path.join(zoo, 'expected.json'), 'utf8')) as ZooExpected;
  // expected.json names a Trainer run with checkpoints by the checkpoint folder; the project's id is the run folder.
  // (`source` may also name the zoo the run was made from: only a folder that holds the id counts.)
  const runFolders = new Map(expected.ingredients.filter((i) => i.source && i.id.startsWith(`${i.source}/`)).map((i) => [i.id, i.source as string]));
  return { expected, runId: (id) => runFolders.get(id) ?? id };
}

/** Every count of a greedy cook against the PyTorch reference: ingredients, steps, soup, uniform, ensemble. */
function assertGreedyReport(report: SoupReport, expected: ZooExpected, runId: (id: string) => string): void {
  assert.deepEqual(report.soup.members, expected.greedy_soup.members.map(runId));
  assert.deepEqual(
    report.steps.map((s) => [s.candidate, s.correct, s.added]),
    expected.greedy_soup.steps.map((s) => [runId(s.candidate), s.candidate_soup_heldout_correct, s.accepted]),
  );
  for (const ing of expected.ingredients) {
    const got = report.ingredients.find((i) => i.id === runId(ing.id));
    assert.deepEqual(got?.metrics?.correct, ing.correct, `${ing.id}: correct counts`);
  }
  assert.deepEqual(report.soup.metrics.correct, expected.greedy_soup.correct);
  assert.deepEqual([...report.baselines.uniform.members].sort(), expected.uniform_soup.members.map(runId).sort());
  assert.deepEqual(report.baselines.uniform.metrics.correct, expected.uniform_soup.correct);
  assert.deepEqual(report.baselines.ensemble.metrics.correct, expected.ensemble.logits_mean.correct);
}

describe('checkpoint zoos cook end to end, from the scan to the written soup', function () {
  this.timeout(600_000);

  it('model-soup cook of fashion-ckpt reproduces expected.json and writes model.safetensors beside soup.onnx', async () => {
    const { expected, runId } = readExpected(CKPT);
    const out = await tempDir('ckpt-zoo-');
    try {
      const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'model-soup.js'), 'cook', CKPT, '--method', 'greedy', '--out', out, '--name', 'g', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as SoupReport;
      assertGreedyReport(report, expected, runId);
      const x13 = report.ingredients.find((i) => i.id === 'sweep-x13');
      assert.equal(x13?.status, 'unreadable');
      assert.match(x13?.reason ?? '', /os\.system/);
      // The first member (a Lightning run) has no config.json to carry over.
      assert.deepEqual((await fsp.readdir(path.join(out, 'g'))).sort(), ['model.safetensors', 'report.json', 'soup.onnx']);
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });

  it('model-soup scan of fashion-ckpt shows each run\'s weights format and dtype, and sweep-x13 unreadable without its claimed accuracy', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'model-soup.js'), 'scan', CKPT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /runs\/ft-11\s+hf\s+safetensors bf16\s+85\.85 %\s+ok/);
    assert.match(r.stdout, /sweep-c09\s+plain\s+safetensors f16\s+87\.20 %\s+ok/);
    assert.match(r.stdout, /runs\/ft-08\s+hf\s+safetensors-sharded f32\s+87\.00 %\s+ok/);
    assert.match(r.stdout, /lightning_logs\/version_0\s+lightning\s+torch f32\s+87\.75 %\s+ok\s+lightning_logs\/version_0\/checkpoints\/last\.ckpt \(val_acc\)/);
    assert.match(r.stdout, /sweep-x13\s+plain\s+torch\s+—\s+unreadable\s+pickle calls os\.system/);
  });

  it('a cook of fashion-trackers (TensorBoard, MLflow, W&B runs) reproduces expected.json', async () => {
    const { expected, runId } = readExpected(TRACKERS);
    const out = await tempDir('trackers-zoo-');
    try {
      const { report } = await cookSoup({ workspace: TRACKERS, config: loadConfig(TRACKERS), method: 'greedy', outDir: out, name: 'g' });
      assertGreedyReport(report, expected, runId);
      assert.deepEqual(report.ingredients.filter((i) => i.status === 'ok').map((i) => i.id), expected.sorted_by_heldout.map(runId));
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });
});
