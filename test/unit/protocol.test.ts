import * as assert from 'node:assert/strict';
import type { SoupReport } from '../../src/engine/report';
import { REPORT_SCHEMA } from '../../src/engine/report';
import { assertNever } from '../../src/shared/assertNever';
import { looksLikeReport } from '../../src/shared/validation';
import { parseHostToWebview, parsePanelState, parseWebviewToHost, type HostToWebview, type SoupMethodView, type WebviewToHost } from '../../src/shared/webviewProtocol';
import { findSoupMethod } from '../../src/engine/soups/catalogue';
import { parseFromWorker, parseToWorker, type FromWorker, type ToWorker } from '../../src/shared/workerProtocol';

function report(): SoupReport {
  const metrics = { heldout: 0.889, test: 0.8615, shifts: { rotate: 0.385, blur: 0.71 }, shiftAvg: 0.5475, correct: { heldout: 1778 } };
  return {
    schema: REPORT_SCHEMA,
    method: 'greedy',
    name: 'greedy-1',
    createdAt: '2025-01-01T00:00:00.000Z',
    workspace: '/ws',
    options: { comparison: '>=', batchSize: 500, scale: 1, input: 'input', output: 'logits' },
    datasets: { heldout: { path: 'data/heldout.npz', n: 2000 } },
    shiftNames: ['rotate', 'blur'],
    ingredients: [{ id: '<img src=x onerror=alert(1)>', layout: 'plain', status: 'ok', hparams: { lr: 0.1 }, model: 'a/model.onnx', metrics }],
    soup: { members: ['<img src=x onerror=alert(1)>'], path: '.soups/greedy-1/soup.onnx', metrics },
    steps: [{ candidate: '<img src=x onerror=alert(1)>', heldout: 0.889, correct: 1778, added: true }],
    baselines: {
      bestIndividual: { members: ['a'], metrics },
      uniform: { members: ['a'], metrics },
      ensemble: { members: ['a'], metrics },
    },
    timingsMs: { scan: 1 },
  };
}

/** What crosses process.send / postMessage: a structured copy, approximated by JSON. */
function overTheWire<T>(msg: T): unknown {
  return JSON.parse(JSON.stringify(msg));
}

// The method as the panel gets it.
const GREEDY: SoupMethodView = { id: 'greedy', label: 'Greedy soup', produces: { ...findSoupMethod('greedy').produces } };

describe('worker protocol', () => {
  const toWorker: ToWorker[] = [
    { type: 'cook', plan: { workspace: '/ws', method: 'greedy', name: 'g', ingredients: ['runs/a', 'runs/b'], config: { datasets: { shifts: {} }, include: [], exclude: [], model: {}, scale: 1, greedy: { comparison: '>=' }, output: '.soups', batchSize: 500, device: 'cpu' } } },
    { type: 'recook', request: { report: '/ws/.soups/greedy-1/report.json', name: 'greedy-1-recook', outDir: '/ws/.soups', allowChanged: false, limits: { allowedRoots: ['/data'], maxDatasetMB: 512 } } },
    { type: 'cancel' },
  ];
  const fromWorker: FromWorker[] = [
    { type: 'progress', progress: { phase: 'soup', done: 5, total: 12, message: 'greedy: 5/12 runs/ft-07 — held-out 87.6 %, kept' } },
    { type: 'done', report: report(), dir: '/ws/.soups/greedy-1' },
    { type: 'cancelled' },
    { type: 'failed', code: 'ONNX_INVALID', message: '/ws/a/model.onnx: truncated', file: '/ws/a/model.onnx' },
    { type: 'failed', code: 'INTERNAL', message: 'boom' },
  ];

  for (const msg of toWorker) {
    it(`round-trips a "${msg.type}" request to the worker unchanged`, () => {
      assert.deepEqual(parseToWorker(overTheWire(msg)), { ok: true, message: msg });
    });
  }
  for (const msg of fromWorker) {
    it(`round-trips a "${msg.type}" message from the worker unchanged`, () => {
      assert.deepEqual(parseFromWorker(overTheWire(msg)), { ok: true, message: msg });
    });
  }

  it('drops a cook request without a workspace, naming the field', () => {
    const r = parseToWorker({ type: 'cook', plan: { method: 'greedy', config: {} } });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problem, /plan\.workspace/);
  });

  it('drops a recook request without a report path or with malformed limits, naming the field', () => {
    const r = parseToWorker({ type: 'recook', request: { name: 'x' } });
    assert.match(r.ok ? '' : r.problem, /request\.report/);
    assert.equal(parseToWorker({ type: 'recook', request: { report: '/r.json', limits: { allowedRoots: [1] } } }).ok, false);
    assert.equal(parseToWorker({ type: 'recook', request: { report: '/r.json', allowChanged: 'yes' } }).ok, false);
  });

  it('drops a cook request whose ingredients are not strings', () => {
    assert.equal(parseToWorker({ type: 'cook', plan: { workspace: '/ws', method: 'greedy', config: {}, ingredients: [1] } }).ok, false);
  });

  it('drops unknown message types and non-objects', () => {
    for (const raw of [{ type: 'explode' }, null, 'cook', 42, [], { plan: {} }]) {
      assert.equal(parseToWorker(raw).ok, false, JSON.stringify(raw));
      assert.equal(parseFromWorker(raw).ok, false, JSON.stringify(raw));
    }
  });

  it('drops progress with negative or fractional counts', () => {
    assert.equal(parseFromWorker({ type: 'progress', progress: { phase: 'soup', done: -1, total: 2, message: 'x' } }).ok, false);
    assert.equal(parseFromWorker({ type: 'progress', progress: { phase: 'soup', done: 1.5, total: 2, message: 'x' } }).ok, false);
  });

  it('drops a done message whose report lacks the soup metrics', () => {
    const r = report() as unknown as Record<string, unknown>;
    r.soup = { members: [] };
    assert.equal(parseFromWorker({ type: 'done', report: r, dir: '/x' }).ok, false);
  });
});

describe('webview protocol', () => {
  const toHost: WebviewToHost[] = [
    { type: 'ready' },
    { type: 'rendered', rows: 16, charts: 3 },
    { type: 'rendered', rows: 2, charts: 0, labels: ['Greedy soup', '<img src=x onerror=alert(1)>'] },
    { type: 'rendered', rows: 16, charts: 1, summary: '5 of 10 checked (12 found)', cards: ['chart-trajectory'], hints: ['No shift sets are configured'] },
    { type: 'revealModel' },
    { type: 'openReport' },
    { type: 'copyMembers' },
    { type: 'recook' },
  ];
  const toWebview: HostToWebview[] = [
    { type: 'init', soupDir: '/ws/.soups/greedy-1', method: GREEDY, report: report() },
    { type: 'loadError', soupDir: '/ws/.soups/x', message: 'no report.json in this soup folder' },
  ];

  for (const msg of toHost) {
    it(`round-trips "${msg.type}" from the webview unchanged`, () => {
      assert.deepEqual(parseWebviewToHost(overTheWire(msg)), { ok: true, message: msg });
    });
  }
  for (const msg of toWebview) {
    it(`round-trips "${msg.type}" to the webview unchanged (markup in run names stays data)`, () => {
      assert.deepEqual(parseHostToWebview(overTheWire(msg)), { ok: true, message: msg });
    });
  }

  it('drops extra fields of command messages instead of passing them on', () => {
    assert.deepEqual(parseWebviewToHost({ type: 'openReport', path: '/etc/passwd' }), { ok: true, message: { type: 'openReport' } });
  });

  it('drops unknown and malformed webview messages', () => {
    for (const raw of [{ type: 'runCommand', command: 'rm' }, { type: 'rendered', rows: '3', charts: 1 }, undefined, 'ready']) {
      assert.equal(parseWebviewToHost(raw).ok, false, JSON.stringify(raw));
    }
  });

  it('passes on only the method fields the panel uses', () => {
    const parsed = parseHostToWebview({ type: 'init', soupDir: '/x', method: findSoupMethod('uniform'), report: report() });
    assert.ok(parsed.ok && parsed.message.type === 'init');
    assert.deepEqual(parsed.message.method, { id: 'uniform', label: 'Uniform soup', produces: { steps: false, uniformSoup: true } });
  });

  it('drops an init message without a usable report', () => {
    assert.equal(parseHostToWebview({ type: 'init', soupDir: '/x', method: GREEDY, report: { schema: 'x' } }).ok, false);
  });

  it('restores panel state only when it names a soup folder', () => {
    assert.deepEqual(parsePanelState({ soupDir: '/ws/.soups/g' }), { soupDir: '/ws/.soups/g' });
    assert.equal(parsePanelState({ soupDir: '' }), undefined);
    assert.equal(parsePanelState(undefined), undefined);
    assert.equal(parsePanelState({ dir: '/x' }), undefined);
  });

  it('accepts a report with a uniform method and no steps', () => {
    const r = report();
    r.method = 'uniform';
    r.steps = [];
    assert.equal(looksLikeReport(r), true);
  });
});

describe('webview protocol: only the declared message types get through', () => {
  // Each side has exactly these types; anything else is dropped (and logged by the caller:
  // resultsPanel.ts warns in the output channel, webview/main.ts on the webview console).
  const hostAccepts = ['ready', 'rendered', 'revealModel', 'openReport', 'copyMembers', 'recook'];
  const webviewAccepts = ['init', 'loadError'];
  const notObjects: unknown[] = [undefined, null, 0, 1, true, 'ready', 'init', [], [{ type: 'ready' }], () => 'ready'];
  const oddTypes: unknown[] = [
    undefined,
    null,
    '',
    'READY',
    'ready ',
    ' init',
    'Init',
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    ['ready'],
    { toString: () => 'ready' },
    1,
    // a host message sent the wrong way, and the other way round
    ...webviewAccepts,
  ];

  it('host side drops non-objects', () => {
    for (const raw of notObjects) assert.equal(parseWebviewToHost(raw).ok, false, String(raw));
  });

  it('webview side drops non-objects', () => {
    for (const raw of notObjects) assert.equal(parseHostToWebview(raw).ok, false, String(raw));
  });

  it('host side drops every type it does not declare, naming it in the problem', () => {
    for (const type of oddTypes) {
      const r = parseWebviewToHost({ type, soupDir: '/x', report: {} });
      assert.equal(r.ok, false, `type ${String(type)}`);
      if (!r.ok) assert.match(r.problem, /^unknown message type/);
    }
    // Types from other protocols (the worker's) are not accepted by accident either.
    for (const type of ['cook', 'cancel', 'progress', 'done', 'failed', 'cancelled', 'runCommand', 'executeCommand', 'openExternal']) {
      assert.equal(parseWebviewToHost({ type }).ok, false, type);
    }
  });

  it('webview side drops every type it does not declare', () => {
    for (const type of [...oddTypes.filter((t) => !webviewAccepts.includes(t as string)), ...hostAccepts]) {
      const r = parseHostToWebview({ type, soupDir: '/x', method: GREEDY, message: 'x', report: report() });
      assert.equal(r.ok, false, `type ${String(type)}`);
    }
  });

  it('host side drops a rendered message of the wrong shape', () => {
    for (const raw of [
      { type: 'rendered' },
      { type: 'rendered', rows: 1 },
      { type: 'rendered', rows: -1, charts: 0 },
      { type: 'rendered', rows: 1.5, charts: 0 },
      { type: 'rendered', rows: NaN, charts: 0 },
      { type: 'rendered', rows: Infinity, charts: 0 },
      { type: 'rendered', rows: 1, charts: '3' },
      { type: 'rendered', rows: 1, charts: 0, labels: 'soup' },
      { type: 'rendered', rows: 1, charts: 0, labels: ['a', 1] },
      { type: 'rendered', rows: 1, charts: 0, labels: [null] },
      { type: 'rendered', rows: 1, charts: 0, labels: null },
    ]) {
      assert.equal(parseWebviewToHost(raw).ok, false, JSON.stringify(raw));
    }
  });

  it('webview side drops init and loadError messages of the wrong shape', () => {
    const good = { type: 'init', soupDir: '/x', method: GREEDY, report: report() };
    for (const raw of [
      { ...good, soupDir: 1 },
      { ...good, soupDir: undefined },
      { ...good, method: null },
      { ...good, method: 'Greedy soup' },
      { ...good, method: { id: 'greedy', label: 'Greedy soup' } },
      { ...good, method: { ...GREEDY, produces: { steps: 'yes', uniformSoup: false } } },
      { ...good, report: undefined },
      { ...good, report: [] },
      { ...good, report: { ...report(), soup: { members: 'a', metrics: {} } } },
      { ...good, report: { ...report(), ingredients: 'a' } },
      { ...good, report: { ...report(), shiftNames: [1] } },
      { ...good, report: { ...report(), baselines: { bestIndividual: report().baselines.bestIndividual } } },
      { type: 'loadError', soupDir: '/x' },
      { type: 'loadError', soupDir: '/x', message: 42 },
      { type: 'loadError', message: 'no report' },
    ]) {
      assert.equal(parseHostToWebview(raw).ok, false, JSON.stringify(raw));
    }
    assert.equal(parseHostToWebview(good).ok, true);
  });

  it('passes on only the declared fields, never extra ones', () => {
    const r = parseWebviewToHost({ type: 'rendered', rows: 1, charts: 0, labels: ['a'], command: 'rm -rf /', __proto__: { polluted: true } });
    assert.deepEqual(r, { ok: true, message: { type: 'rendered', rows: 1, charts: 0, labels: ['a'] } });
    const l = parseHostToWebview({ type: 'loadError', soupDir: '/x', message: 'm', html: '<img src=x onerror=alert(1)>' });
    assert.deepEqual(l, { ok: true, message: { type: 'loadError', soupDir: '/x', message: 'm' } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('assertNever', () => {
  it('throws with the unexpected value when a union case is not handled', () => {
    assert.throws(() => assertNever({ type: 'new' } as never, 'message'), /unexpected message: {"type":"new"}/);
  });
});
