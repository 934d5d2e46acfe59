import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defaultConfig } from '../../src/engine/config';
import { SoupError } from '../../src/engine/errors';
import { REPORT_SCHEMA } from '../../src/engine/report';
import { isTemporaryName, listSoups, readSoupReport } from '../../src/engine/soupIndex';

function reportJson(name: string, createdAt: string, members: string[], heldout: number): string {
  const metrics = (h: number): object => ({ heldout: h, test: h - 0.02, shifts: { rotate: h - 0.5 }, shiftAvg: h - 0.5, correct: {} });
  return JSON.stringify({
    schema: REPORT_SCHEMA,
    method: 'greedy',
    name,
    createdAt,
    workspace: '/ws',
    options: { batchSize: 500, scale: 1, input: 'input', output: 'logits' },
    datasets: {},
    shiftNames: ['rotate'],
    ingredients: [],
    soup: { members, path: `.soups/${name}/soup.onnx`, metrics: metrics(heldout) },
    steps: [],
    baselines: { bestIndividual: { members: ['runs/a'], metrics: metrics(0.87) }, uniform: { members, metrics: metrics(0.6) }, ensemble: { members, metrics: metrics(0.89) } },
    timingsMs: {},
  });
}

describe('soupIndex', () => {
  let ws: string;
  const out = (): string => path.join(ws, '.soups');
  const soup = (name: string, report?: string): void => {
    mkdirSync(path.join(out(), name), { recursive: true });
    if (report !== undefined) writeFileSync(path.join(out(), name, 'report.json'), report);
  };

  beforeEach(() => {
    ws = mkdtempSync(path.join(tmpdir(), 'soup-index-'));
  });
  afterEach(() => rmSync(ws, { recursive: true, force: true }));

  it('returns no soups when the output folder does not exist', async () => {
    assert.deepEqual(await listSoups(ws, defaultConfig()), []);
  });

  it('lists readable soups newest first with method, members and accuracies', async () => {
    soup('greedy-old', reportJson('greedy-old', '2025-01-01T00:00:00Z', ['runs/a'], 0.87));
    soup('greedy-new', reportJson('greedy-new', '2025-02-01T00:00:00Z', ['runs/a', 'runs/b'], 0.889));
    const soups = await listSoups(ws, defaultConfig());
    assert.deepEqual(soups.map((s) => s.name), ['greedy-new', 'greedy-old']);
    const first = soups[0];
    assert.equal(first.status, 'ok');
    if (first.status !== 'ok') return;
    assert.equal(first.method, 'greedy');
    assert.deepEqual(first.members, ['runs/a', 'runs/b']);
    assert.equal(first.heldout, 0.889);
    assert.equal(first.modelPath, path.join(out(), 'greedy-new', 'soup.onnx'));
    assert.deepEqual(first.bestIndividual, { id: 'runs/a', heldout: 0.87, shiftAvg: 0.87 - 0.5 });
  });

  it('skips hidden and temporary folders of cooks still writing or killed', async () => {
    soup('greedy-1', reportJson('greedy-1', '2025-01-01T00:00:00Z', ['runs/a'], 0.88));
    soup('.tmp-greedy-2-12345');
    soup('_scratch');
    soup('greedy-3.partial');
    const soups = await listSoups(ws, defaultConfig());
    assert.deepEqual(soups.map((s) => s.name), ['greedy-1']);
  });

  it('reports broken soups with a reason instead of throwing, after the readable ones', async () => {
    soup('a-no-report');
    soup('b-bad-json', '{"schema": ');
    soup('c-old-schema', JSON.stringify({ schema: 'model-soups/report@0' }));
    soup('d-good', reportJson('d-good', '2025-01-01T00:00:00Z', ['runs/a'], 0.88));
    const soups = await listSoups(ws, defaultConfig());
    assert.deepEqual(soups.map((s) => [s.name, s.status]), [
      ['d-good', 'ok'],
      ['a-no-report', 'unreadable'],
      ['b-bad-json', 'unreadable'],
      ['c-old-schema', 'unreadable'],
    ]);
    const reasons = Object.fromEntries(soups.map((s) => [s.name, s.status === 'unreadable' ? s.reason : '']));
    assert.match(reasons['a-no-report'], /no report\.json/);
    assert.match(reasons['b-bad-json'], /not valid JSON/);
    assert.match(reasons['c-old-schema'], /report@0.*expected "model-soups\/report@2"/);
  });

  it('reads the output folder from the config', async () => {
    const config = { ...defaultConfig(), output: 'my-soups' };
    mkdirSync(path.join(ws, 'my-soups', 'g'), { recursive: true });
    writeFileSync(path.join(ws, 'my-soups', 'g', 'report.json'), reportJson('g', '2025-01-01T00:00:00Z', ['runs/a'], 0.88));
    assert.deepEqual((await listSoups(ws, config)).map((s) => s.name), ['g']);
  });

  it('readSoupReport throws a SoupError naming report.json when the report lacks baselines', async () => {
    const bad = JSON.parse(reportJson('g', '2025-01-01T00:00:00Z', ['runs/a'], 0.88)) as Record<string, unknown>;
    delete bad.baselines;
    soup('g', JSON.stringify(bad));
    await assert.rejects(readSoupReport(path.join(out(), 'g')), (err: unknown) => {
      assert.ok(err instanceof SoupError);
      assert.equal(err.file, path.join(out(), 'g', 'report.json'));
      assert.match(err.problem, /baselines/);
      return true;
    });
  });

  it('recognises temporary folder names', () => {
    for (const n of ['.tmp-greedy-1-99', '.hidden', '_x', 'g.tmp', 'g.partial', 'g~']) assert.equal(isTemporaryName(n), true, n);
    for (const n of ['greedy-20250101-120000', 'uniform-2', 'my.soup']) assert.equal(isTemporaryName(n), false, n);
  });
});
