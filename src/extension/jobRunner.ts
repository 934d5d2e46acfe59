import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { CookPlan, CookProgress } from '../engine/cookPlan';
import type { RecookRequest } from '../engine/recook';
import type { SoupReport } from '../engine/report';
import { isTemporaryName } from '../engine/soupIndex';
import { assertNever } from '../shared/assertNever';
import { parseFromWorker, type FromWorker, type ToWorker } from '../shared/workerProtocol';

/** How a cook ended. */
export type JobOutcome =
  | { status: 'done'; report: SoupReport; dir: string }
  | { status: 'cancelled' }
  | { status: 'failed'; code: string; message: string; file?: string };

/** How a job reports and what cancels it. */
export interface JobOptions {
  signal: AbortSignal;
  onProgress: (p: CookProgress) => void;
}

/** How long a worker may take to stop by itself after `cancel` before it is killed. */
const CANCEL_GRACE_MS = 2000;

/**
 * Runs one cook in a forked Node process (`dist/worker.js`). The engine and onnxruntime never
 * load in the extension host: a crash or a hang in inference costs the child, not VS Code.
 * Cancelling asks the worker to stop (the engine then removes its temporary output) and kills
 * it if it does not exit in time; after a kill or a crash the runner removes what the killed
 * cook may have left, so a cancelled or failed job never leaves a soup folder behind.
 */
export class JobRunner {
  private childPid?: number;
  private started = 0;

  constructor(
    private readonly workerPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Pid of the running worker process, if one is running (tests kill it to simulate a crash). */
  get workerPid(): number | undefined {
    return this.childPid;
  }

  /** How many worker processes this runner has started. */
  get workersStarted(): number {
    return this.started;
  }

  run(plan: CookPlan & { name: string }, opts: JobOptions): Promise<JobOutcome> {
    return this.start({ type: 'cook', plan }, { name: plan.name, outDir: path.resolve(plan.workspace, plan.outDir ?? plan.config.output) }, opts);
  }

  /** Re-cooks a soup from its report (the worker checks the ingredients, then cooks). */
  recook(request: RecookRequest & { name: string; outDir: string }, opts: JobOptions): Promise<JobOutcome> {
    return this.start({ type: 'recook', request }, request, opts);
  }

  /** Runs `job` in a new worker; `plan` names the soup folder it writes (removed if the job does not finish). */
  private start(job: ToWorker, plan: { name: string; outDir: string }, opts: JobOptions): Promise<JobOutcome> {
    const { outDir } = plan;
    const outDirExisted = existsSync(outDir);
    return new Promise<JobOutcome>((resolve) => {
      let child: ChildProcess;
      try {
        child = fork(this.workerPath, [], {
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
          // Debug flags of the extension host must not leak into the worker (port clashes).
          execArgv: [],
          // Inside Electron, fork must start Node, not another Electron app.
          env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        });
      } catch (err) {
        resolve({ status: 'failed', code: 'INTERNAL', message: `could not start the cook process: ${String(err)}` });
        return;
      }
      this.started++;
      this.childPid = child.pid;
      this.log.info(`job ${plan.name}: worker pid ${child.pid} started`);
      let terminal: FromWorker | undefined;
      let cancelRequested = false;
      let killTimer: NodeJS.Timeout | undefined;
      let stderrTail = '';
      const onLine = (stream: string) => (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'stderr') stderrTail = (stderrTail + text).slice(-2000);
        for (const line of text.split(/\r?\n/)) if (line.trim()) this.log.info(`[worker ${stream}] ${line}`);
      };
      child.stdout?.on('data', onLine('stdout'));
      child.stderr?.on('data', onLine('stderr'));

      const onAbort = (): void => {
        if (cancelRequested || terminal) return;
        cancelRequested = true;
        this.log.info(`job ${plan.name}: cancel requested`);
        this.send(child, { type: 'cancel' });
        killTimer = setTimeout(() => {
          this.log.warn(`job ${plan.name}: worker did not stop in ${CANCEL_GRACE_MS} ms, killing it`);
          child.kill('SIGKILL');
        }, CANCEL_GRACE_MS);
      };
      opts.signal.addEventListener('abort', onAbort);

      child.on('message', (raw: unknown) => {
        const parsed = parseFromWorker(raw);
        if (!parsed.ok) {
          this.log.warn(`job ${plan.name}: dropped a worker message (${parsed.problem})`);
          return;
        }
        const msg = parsed.message;
        switch (msg.type) {
          case 'progress':
            if (!cancelRequested) opts.onProgress(msg.progress);
            return;
          case 'done':
          case 'cancelled':
          case 'failed':
            terminal = msg;
            return;
          default:
            assertNever(msg, 'worker message');
        }
      });

      let settled = false;
      const settle = async (outcome: JobOutcome): Promise<void> => {
        if (settled) return;
        settled = true;
        clearTimeout(killTimer);
        opts.signal.removeEventListener('abort', onAbort);
        if (outcome.status !== 'done') await removeLeftovers(outDir, outDirExisted, plan.name, this.log);
        resolve(outcome);
      };

      child.on('error', (err) => void settle({ status: 'failed', code: 'INTERNAL', message: `cook process error: ${err.message}` }));
      child.on('exit', (code, signal) => {
        if (this.childPid === child.pid) this.childPid = undefined;
        this.log.info(`job ${plan.name}: worker exited (${signal ? `signal ${signal}` : `code ${code}`})`);
        if (terminal?.type === 'done') void settle({ status: 'done', report: terminal.report, dir: terminal.dir });
        else if (terminal?.type === 'failed') void settle({ status: 'failed', code: terminal.code, message: terminal.message, file: terminal.file });
        else if (terminal?.type === 'cancelled' || cancelRequested) void settle({ status: 'cancelled' });
        else {
          const last = stderrTail.trim().split(/\r?\n/).pop();
          void settle({ status: 'failed', code: 'CRASHED', message: `the cook process exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${last ? `: ${last}` : ''}` });
        }
      });

      this.send(child, job);
      if (opts.signal.aborted) onAbort();
    });
  }

  private send(child: ChildProcess, msg: ToWorker): void {
    if (!child.connected) return;
    child.send(msg, (err) => {
      if (err) this.log.warn(`could not send ${msg.type} to the worker: ${err.message}`);
    });
  }
}

/**
 * Removes what a cook that did not finish may have left: its soup folder, temporary folders
 * named after it, and the output folder itself when this job created it and it is empty.
 */
async function removeLeftovers(outDir: string, outDirExisted: boolean, name: string, log: vscode.LogOutputChannel): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(outDir);
  } catch {
    return;
  }
  for (const entry of entries.filter((e) => e === name || (isTemporaryName(e) && e.includes(name)))) {
    log.info(`removing leftover ${path.join(outDir, entry)}`);
    await fs.rm(path.join(outDir, entry), { recursive: true, force: true });
  }
  if (!outDirExisted) {
    try {
      if ((await fs.readdir(outDir)).length === 0) await fs.rmdir(outDir);
    } catch {
      // Someone else is writing there: leave it.
    }
  }
}
