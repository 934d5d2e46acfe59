// The background cook process, forked by src/extension/jobRunner.ts. It exists so that
// onnxruntime (a native addon doing seconds of inference) never runs on the extension host's
// thread, and so that a stuck or crashing cook can be killed without taking VS Code down.
// Protocol: the parent sends one `cook` (or `recook`), maybe a `cancel`; the worker answers with `progress`
// messages and exactly one of `done` / `cancelled` / `failed`, then exits.
import type { CookOptions } from '../engine/cookPlan';
import type { CookResult } from '../engine/cookSoup';
import { cookSoup } from '../engine/cookSoup';
import { recookSoup } from '../engine/recook';
import { SoupError, errorMessage, isCancelled } from '../engine/errors';
import { assertNever } from '../shared/assertNever';
import { parseToWorker, type FromWorker } from '../shared/workerProtocol';

const controller = new AbortController();
let started = false;

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function finish(msg: FromWorker, code: number): Promise<never> {
  await send(msg);
  process.exit(code);
}

function failure(err: unknown): FromWorker {
  if (err instanceof SoupError) return { type: 'failed', code: err.code, message: err.message, ...(err.file ? { file: err.file } : {}) };
  return { type: 'failed', code: 'INTERNAL', message: errorMessage(err) };
}

async function cook(job: (opts: CookOptions) => Promise<CookResult>): Promise<void> {
  try {
    const result = await job({
      signal: controller.signal,
      onProgress: (progress) => void send({ type: 'progress', progress }),
    });
    await finish({ type: 'done', report: result.report, dir: result.dir }, 0);
  } catch (err) {
    if (isCancelled(err) || controller.signal.aborted) await finish({ type: 'cancelled' }, 0);
    else await finish(failure(err), 1);
  }
}

process.on('message', (raw: unknown) => {
  const parsed = parseToWorker(raw);
  if (!parsed.ok) {
    // Logged on stderr, which the parent copies into the output channel.
    console.error(`model-soups worker: dropped message (${parsed.problem})`);
    return;
  }
  const msg = parsed.message;
  switch (msg.type) {
    case 'cook':
    case 'recook':
      if (started) {
        console.error(`model-soups worker: ignored a second ${msg.type} request`);
        return;
      }
      started = true;
      void cook(msg.type === 'cook' ? (opts) => cookSoup(msg.plan, opts) : (opts) => recookSoup(msg.request, opts));
      return;
    case 'cancel':
      controller.abort();
      if (!started) void finish({ type: 'cancelled' }, 0);
      return;
    default:
      assertNever(msg, 'worker message');
  }
});

// The parent went away (VS Code closed, extension host restarted): nobody wants the result,
// so stop the cook and let the engine clean up its temporary output.
process.on('disconnect', () => {
  controller.abort();
  setTimeout(() => process.exit(0), 5000).unref();
});

process.on('uncaughtException', (err) => void finish(failure(err), 1));
process.on('unhandledRejection', (err) => void finish(failure(err), 1));

if (!process.send) {
  console.error('model-soups worker: must be started with child_process.fork (no IPC channel)');
  process.exit(2);
}
