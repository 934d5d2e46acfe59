import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, resolveInWorkspace, type SoupConfig } from '../engine/config';
import { scanWorkspace } from '../engine/discovery/scanWorkspace';
import type { WorkspaceScan } from '../engine/discovery/scanResult';
import { SoupError, errorMessage, isCancelled } from '../engine/errors';
import { listSoups, type SoupSummary } from '../engine/soupIndex';
import { REPORT_FILE } from '../engine/report';
import { affectsSettings, effectiveConfig, fallbackOutput } from './config';

/** What the sidebar can show about the workspace. */
export type ModelState =
  | { kind: 'loading' }
  | { kind: 'noFolder' }
  | { kind: 'configError'; message: string; file?: string }
  | { kind: 'scanError'; message: string }
  | { kind: 'ready'; scan: WorkspaceScan; config: SoupConfig };

const EXCLUDED_KEY = 'modelSoups.excludedIngredients';
const DEBOUNCE_MS = 400;
// Files whose appearance, change or removal can change a run's row (metrics, hparams, model)
// or the config itself.
const RUN_FILES = '**/{modelsoups.json,metrics.json,metrics.csv,eval_results.json,all_results.json,trainer_state.json,training_args.json,config.json,hparams.yaml,*.onnx,*.safetensors}';

/**
 * The one source of truth behind the trees: the scan, the cooked soups and which ingredients
 * are checked. It rescans (debounced) when run files, `modelsoups.json` or the settings
 * change, and aborts a scan that a newer one has made stale.
 */
export class WorkspaceModel implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private scanAbort?: AbortController;
  private timer?: NodeJS.Timeout;
  private pending = { runs: false, soups: false };
  private current: ModelState = { kind: 'loading' };
  private soupList: SoupSummary[] = [];
  private sizes = new Map<string, number>();
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly memento: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const runs = vscode.workspace.createFileSystemWatcher(RUN_FILES);
    const onRunFile = (uri: vscode.Uri): void => this.schedule(this.isInOutput(uri.fsPath) ? 'soups' : 'runs');
    runs.onDidCreate(onRunFile, undefined, this.disposables);
    runs.onDidChange(onRunFile, undefined, this.disposables);
    runs.onDidDelete(onRunFile, undefined, this.disposables);
    const reports = vscode.workspace.createFileSystemWatcher(`**/${REPORT_FILE}`);
    const onReport = (): void => this.schedule('soups');
    reports.onDidCreate(onReport, undefined, this.disposables);
    reports.onDidChange(onReport, undefined, this.disposables);
    reports.onDidDelete(onReport, undefined, this.disposables);
    // A deleted run folder fires only for the folder itself, and files copied into a new folder
    // can land before the OS watch on that folder exists: folder-level events cover both.
    const folders = vscode.workspace.createFileSystemWatcher('**/*', false, true, false);
    const onFolder = (uri: vscode.Uri): void => this.schedule(this.isInOutput(uri.fsPath) ? 'soups' : 'runs');
    folders.onDidCreate(onFolder, undefined, this.disposables);
    folders.onDidDelete(onFolder, undefined, this.disposables);
    this.disposables.push(
      runs,
      reports,
      folders,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affectsSettings(e)) this.schedule('runs');
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.schedule('runs')),
    );
  }

  get state(): ModelState {
    return this.current;
  }

  get soups(): readonly SoupSummary[] {
    return this.soupList;
  }

  /** The workspace folder the extension works on: the first one holding `modelsoups.json`. */
  get workspace(): string | undefined {
    const folders = vscode.workspace.workspaceFolders?.filter((f) => f.uri.scheme === 'file') ?? [];
    const withConfig = folders.find((f) => existsSync(path.join(f.uri.fsPath, CONFIG_FILE)));
    return (withConfig ?? folders[0])?.uri.fsPath;
  }

  /** The model file size of a run, in bytes, when it could be read. */
  modelSize(runId: string): number | undefined {
    return this.sizes.get(runId);
  }

  /** Absolute output folder of the current config (default `.soups`). */
  get outputDir(): string | undefined {
    const ws = this.workspace;
    if (!ws) return undefined;
    const output = this.current.kind === 'ready' ? this.current.config.output : fallbackOutput();
    return resolveInWorkspace(ws, output);
  }

  /** Whether the user left this ingredient checked (runs start checked). */
  isIncluded(runId: string): boolean {
    return !this.excluded().includes(runId);
  }

  async setIncluded(runIds: readonly string[], included: boolean): Promise<void> {
    const excluded = new Set(this.excluded());
    for (const id of runIds) {
      if (included) excluded.delete(id);
      else excluded.add(id);
    }
    await this.memento.update(EXCLUDED_KEY, [...excluded].sort());
    this.changed.fire();
  }

  /** Ids of the scored, compatible runs that are checked, in held-out order. */
  /**
   * The ingredients a cook uses: undefined while every eligible run is checked (the engine then
   * takes them all), else the checked ones.
   */
  cookSelection(): string[] | undefined {
    if (this.current.kind !== 'ready') return undefined;
    const checked = this.checkedIngredients();
    return checked.length < this.current.scan.runs.filter((r) => r.status === 'ok').length ? checked : undefined;
  }

  checkedIngredients(): string[] {
    if (this.current.kind !== 'ready') return [];
    return this.current.scan.runs.filter((r) => r.status === 'ok' && this.isIncluded(r.id)).map((r) => r.id);
  }

  /** Rescans now (runs and soups); resolves when the trees have the new data. */
  refresh(): Promise<void> {
    this.pending = { runs: true, soups: true };
    return this.flush();
  }

  /** Rereads the soups only (after a cook). */
  refreshSoups(): Promise<void> {
    this.pending.soups = true;
    return this.flush();
  }

  private schedule(what: 'runs' | 'soups'): void {
    this.pending[what] = true;
    if (what === 'runs') this.pending.soups = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), DEBOUNCE_MS);
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    const { runs, soups } = this.pending;
    this.pending = { runs: false, soups: false };
    // Serialised so that an older, slower refresh can never overwrite a newer result.
    this.refreshing = this.refreshing.then(() => this.load(runs, soups)).catch((err) => this.log.error(`refresh failed: ${errorMessage(err)}`));
    return this.refreshing;
  }

  private async load(runs: boolean, soups: boolean): Promise<void> {
    const ws = this.workspace;
    if (!ws) {
      this.current = { kind: 'noFolder' };
      this.soupList = [];
      this.changed.fire();
      return;
    }
    if (runs) await this.loadRuns(ws);
    if (soups || runs) await this.loadSoups(ws);
    this.changed.fire();
  }

  private async loadRuns(ws: string): Promise<void> {
    let config: SoupConfig;
    try {
      config = effectiveConfig(ws, vscode.Uri.file(ws));
    } catch (err) {
      this.current = { kind: 'configError', message: errorMessage(err), file: err instanceof SoupError ? err.file : undefined };
      this.log.warn(`config: ${errorMessage(err)}`);
      return;
    }
    this.scanAbort?.abort();
    const abort = new AbortController();
    this.scanAbort = abort;
    const started = Date.now();
    try {
      const scan = await scanWorkspace(ws, config, { signal: abort.signal });
      this.current = { kind: 'ready', scan, config };
      this.sizes = await modelSizes(scan);
      this.log.info(`scan: ${scan.runs.length} runs, ${scan.groups.length} architecture group(s) in ${Date.now() - started} ms`);
    } catch (err) {
      if (isCancelled(err) || abort.signal.aborted) return;
      this.current = { kind: 'scanError', message: errorMessage(err) };
      this.log.error(`scan: ${errorMessage(err)}`);
    }
  }

  private async loadSoups(ws: string): Promise<void> {
    const config = this.current.kind === 'ready' ? this.current.config : undefined;
    if (!config) {
      this.soupList = [];
      return;
    }
    try {
      this.soupList = await listSoups(ws, config);
    } catch (err) {
      this.soupList = [];
      this.log.error(`soups: ${errorMessage(err)}`);
    }
  }

  private isInOutput(file: string): boolean {
    const out = this.outputDir;
    return out !== undefined && (file === out || file.startsWith(out + path.sep));
  }

  private excluded(): string[] {
    const v = this.memento.get<unknown>(EXCLUDED_KEY);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.scanAbort?.abort();
    for (const d of this.disposables) d.dispose();
  }
}

async function modelSizes(scan: WorkspaceScan): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  await Promise.all(
    scan.runs.map(async (r) => {
      try {
        sizes.set(r.id, (await fs.stat(r.modelPath)).size);
      } catch {
        // Unreadable models already carry their reason in the run's status.
      }
    }),
  );
  return sizes;
}
