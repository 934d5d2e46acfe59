import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { resolveInWorkspace } from '../engine/config';
import { defaultSoupName, type CookPhase, type CookProgress } from '../engine/cookPlan';
import { formatGain, formatPercent } from '../shared/format';
import type { IngredientsTree } from './ingredientsTree';
import { userLimits } from './config';
import type { JobOptions, JobOutcome, JobRunner } from './jobRunner';
import type { SoupsTree } from './soupsTree';
import { explainRestrictedMode, isTrusted } from './trust';
import type { WorkspaceModel } from './workspaceModel';

// Share of the progress bar per phase: evaluating and souping are where the time goes.
const PHASE_SPAN: Record<CookPhase, [start: number, width: number]> = {
  scan: [0, 5],
  load: [5, 10],
  evaluate: [15, 40],
  soup: [55, 30],
  analyses: [85, 10],
  write: [95, 5],
};

/** The outcome of a cook command, including the ones that never started a job. */
export type CookOutcome = JobOutcome | { status: 'notStarted'; reason: string };

/** Starts cooks (one at a time), shows their progress and reports how they ended. */
export class CookController implements vscode.Disposable {
  private job?: { abort: AbortController; name: string };
  private last?: CookOutcome;
  private readonly progressEmitter = new vscode.EventEmitter<CookProgress>();
  /** Fires for every progress step of the running job. */
  readonly onProgress = this.progressEmitter.event;

  constructor(
    private readonly model: WorkspaceModel,
    private readonly runner: JobRunner,
    private readonly log: vscode.LogOutputChannel,
    private readonly ingredients: IngredientsTree,
    private readonly soups: SoupsTree,
    private readonly methodLabel: (id: string) => string,
    /** Opens a soup's results; `background` puts the panel beside the editor without focus. */
    private readonly showResults: (dir: string, background: boolean) => void,
    private readonly openAfterCook: () => boolean,
  ) {}

  get running(): boolean {
    return this.job !== undefined;
  }

  /** Pid of the running cook's worker process (for the test API). */
  get workerPid(): number | undefined {
    return this.runner.workerPid;
  }

  /** Worker processes started so far (for the test API). */
  get workersStarted(): number {
    return this.runner.workersStarted;
  }

  get lastOutcome(): CookOutcome | undefined {
    return this.last;
  }

  /** Asks the running job to stop. Returns false when nothing was running. */
  cancel(): boolean {
    if (!this.job) return false;
    this.job.abort.abort();
    return true;
  }

  /**
   * Cooks a soup with `method` from `ingredients` (default: every scored, compatible run).
   * Resolves when the job has ended; never rejects (failures are shown and returned).
   */
  async cook(method: string, ingredients?: string[]): Promise<CookOutcome> {
    const refused = this.refusal(`cook ${method}`);
    if (refused) return refused;
    if (this.model.state.kind === 'loading') await this.model.refresh();
    const state = this.model.state;
    if (state.kind !== 'ready') {
      void vscode.window.showErrorMessage(`Model Soups: cannot cook: ${state.kind === 'configError' || state.kind === 'scanError' ? state.message : 'no workspace folder is open'}`);
      return this.refuse(state.kind);
    }
    if (!state.config.datasets.heldout) {
      const configure = 'Configure Evaluation Data';
      void vscode.window.showWarningMessage('Model Soups: no held-out dataset is configured; greedy soup and every comparison need one.', configure).then((c) => {
        if (c === configure) void vscode.commands.executeCommand('modelSoups.configureEvaluation');
      });
      return this.refuse('no evaluation data');
    }
    if (ingredients && ingredients.length === 0) {
      void vscode.window.showWarningMessage('Model Soups: no ingredients are checked. Check at least one scored, compatible run.');
      return this.refuse('no ingredients');
    }

    const label = this.methodLabel(method);
    const outDir = resolveInWorkspace(state.scan.workspace, state.config.output);
    const name = uniqueName(outDir, defaultSoupName(method));
    this.log.info(`job ${name}: cooking ${label} in ${state.scan.workspace}${ingredients ? ` from ${ingredients.length} checked ingredients` : ''}`);
    return this.track(label, name, (opts) => this.runner.run({ workspace: state.scan.workspace, config: state.config, method, ingredients, name }, opts));
  }

  /**
   * Re-cooks the soup in `soupDir` from its report (method, ingredients, options, datasets as
   * recorded) into `<name>-recook` beside it. The worker refuses when an ingredient changed.
   */
  async recook(soupDir: string): Promise<CookOutcome> {
    const original = path.basename(soupDir);
    const refused = this.refusal(`re-cook ${original}`);
    if (refused) return refused;
    const soup = this.model.soups.find((x) => x.dir === soupDir);
    const label = `${soup?.status === 'ok' ? this.methodLabel(soup.method) : 'soup'} (re-cook of ${original})`;
    const outDir = path.dirname(soupDir);
    const name = uniqueName(outDir, `${original}-recook`);
    this.log.info(`job ${name}: re-cooking ${soupDir}`);
    const limits = userLimits(this.model.workspace ? vscode.Uri.file(this.model.workspace) : undefined);
    return this.track(label, name, (opts) => this.runner.recook({ report: soupDir, name, outDir, limits }, opts));
  }

  private refuse(reason: string): CookOutcome {
    this.last = { status: 'notStarted', reason };
    return this.last;
  }

  /** The refusal (shown to the user) when the workspace is untrusted or a job is running; `what` names the job in the log. */
  private refusal(what: string): CookOutcome | undefined {
    if (!isTrusted()) {
      void explainRestrictedMode();
      return this.refuse('untrusted workspace');
    }
    if (this.job) {
      const busy = `a soup is already cooking (${this.job.name}). Cancel it first or wait for it to finish.`;
      this.log.warn(`${what} refused: ${busy}`);
      void vscode.window.showInformationMessage(`Model Soups: ${busy}`);
      return this.refuse('a job is running');
    }
    return undefined;
  }

  /** Runs one job under a cancellable progress notification, then shows how it ended. */
  private async track(label: string, name: string, launch: (opts: JobOptions) => Promise<JobOutcome>): Promise<CookOutcome> {
    const abort = new AbortController();
    this.job = { abort, name };
    // The outcome of an earlier cook must not sit beside this one.
    this.ingredients.showLastCook(undefined);
    void vscode.commands.executeCommand('setContext', 'modelSoups.cooking', true);
    const started = Date.now();
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Model Soups: cooking ${label}`, cancellable: true },
        async (progress, token) => {
          // The cancellation token becomes an AbortSignal here, at the edge; the runner and the
          // engine only know signals.
          const sub = token.onCancellationRequested(() => abort.abort());
          let shown = 0;
          try {
            return await launch({
              signal: abort.signal,
              onProgress: (p) => {
                const [start, width] = PHASE_SPAN[p.phase] ?? [0, 0];
                const total = Math.min(100, start + (p.total > 0 ? (width * p.done) / p.total : 0));
                progress.report({ message: p.message, increment: Math.max(0, total - shown) });
                shown = Math.max(shown, total);
                this.log.info(`job ${name}: ${p.message}`);
                this.progressEmitter.fire(p);
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
      this.last = outcome;
      this.log.info(`job ${name}: ${outcome.status} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await this.report(outcome, label);
      return outcome;
    } finally {
      this.job = undefined;
      void vscode.commands.executeCommand('setContext', 'modelSoups.cooking', false);
    }
  }

  private async report(outcome: JobOutcome, label: string): Promise<void> {
    switch (outcome.status) {
      case 'done': {
        await this.model.refreshSoups();
        const r = outcome.report;
        const best = r.baselines.bestIndividual.metrics;
        const skipped = r.ingredients.filter((i) => i.status !== 'ok');
        const summary =
          `Last cook: ${label}, ${r.soup.members.length} member${r.soup.members.length === 1 ? '' : 's'}; ` +
          `held-out ${formatPercent(r.soup.metrics.heldout)} (${formatGain(r.soup.metrics.heldout, best.heldout)}), ` +
          `shift avg ${formatPercent(r.soup.metrics.shiftAvg)} (${formatGain(r.soup.metrics.shiftAvg, best.shiftAvg)}) vs best individual.` +
          (skipped.length > 0 ? ` Skipped ${skipped.length} unusable run${skipped.length === 1 ? '' : 's'}: ${skipped.map((i) => `${i.id} (${i.status})`).join(', ')}.` : '');
        this.log.info(summary);
        for (const i of skipped) this.log.warn(`job ${r.name}: skipped ${i.id}: ${i.status}: ${i.reason ?? 'no reason given'}`);
        this.ingredients.showLastCook(summary);
        this.soups.highlightSoup(outcome.dir);
        if (this.openAfterCook()) this.showResults(outcome.dir, true);
        const show = 'Show Results';
        const reveal = 'Reveal Soup Model';
        void vscode.window.showInformationMessage(`Model Soups: ${summary.replace(/^Last cook: /, '')}`, show, reveal).then((c) => {
          if (c === show) this.showResults(outcome.dir, false);
          if (c === reveal) void vscode.commands.executeCommand('modelSoups.revealSoup', outcome.dir);
        });
        return;
      }
      case 'cancelled':
        this.ingredients.showLastCook(`Last cook: ${label} was cancelled; nothing was written.`);
        void vscode.window.showInformationMessage(`Model Soups: cooking ${label} was cancelled; nothing was written.`);
        return;
      case 'failed': {
        this.log.error(`cook failed [${outcome.code}]: ${outcome.message}`);
        this.ingredients.showLastCook(`Last cook: ${label} failed (${outcome.code}).`);
        const showLog = 'Show Log';
        void vscode.window.showErrorMessage(`Model Soups: cooking ${label} failed: ${outcome.message}`, showLog).then((c) => {
          if (c === showLog) this.log.show();
        });
        return;
      }
    }
  }

  dispose(): void {
    this.job?.abort.abort();
    this.progressEmitter.dispose();
  }
}

/** `base` (e.g. `greedy-20250101-120000`), with a suffix if a soup of that name exists already. */
function uniqueName(outDir: string, base: string): string {
  let name = base;
  for (let i = 2; existsSync(path.join(outDir, name)); i++) name = `${base}-${i}`;
  return name;
}
