import * as path from 'node:path';
import * as vscode from 'vscode';
import { REPORT_FILE, SOUP_MODEL_FILE } from '../engine/report';
import type { SoupSummary } from '../engine/soupIndex';
import type { SoupMethodDescriptor } from '../engine/soups/catalogue';
import type { ComparePanels } from './comparePanel';
import type { CookController } from './cookController';
import { configureEvaluation, type StepObserver } from './configureEvaluation';
import type { IngredientsTree } from './ingredientsTree';
import type { ResultsPanels } from './resultsPanel';
import { FileNode } from './treeNodes/detailNodes';
import { RunNode } from './treeNodes/runNode';
import { SoupNode, soupDescription } from './treeNodes/soupNode';
import { explainRestrictedMode, isTrusted } from './trust';
import type { WorkspaceModel } from './workspaceModel';

/** The services the commands delegate to. */
export interface CommandServices {
  model: WorkspaceModel;
  cooks: CookController;
  panels: ResultsPanels;
  compare: ComparePanels;
  ingredients: IngredientsTree;
  methods: readonly SoupMethodDescriptor[];
  methodLabel: (id: string) => string;
  /** Sees each step of Configure Evaluation Data (the test API passes it on). */
  onSetupStep?: StepObserver;
}

/** Registers every `modelSoups.*` command; each handler only translates arguments and delegates. */
export function registerCommands(s: CommandServices): vscode.Disposable[] {
  const reg = (id: string, fn: (...args: unknown[]) => unknown): vscode.Disposable => vscode.commands.registerCommand(`modelSoups.${id}`, fn);
  return [
    reg('refresh', () => s.model.refresh()),
    // Checkboxes choose what every cook may use; all are checked by default.
    reg('cookGreedy', () => s.cooks.cook('greedy', s.model.cookSelection())),
    reg('cookUniform', () => s.cooks.cook('uniform', s.model.cookSelection())),
    reg('cookLearned', () => s.cooks.cook('learned', s.model.cookSelection())),
    reg('cookChecked', async (method?: unknown) => {
      if (!isTrusted()) return void explainRestrictedMode();
      const id = typeof method === 'string' ? method : await pickMethod(s.methods);
      if (!id) return undefined;
      return s.cooks.cook(id, s.model.checkedIngredients());
    }),
    reg('cancel', () => {
      if (!s.cooks.cancel()) void vscode.window.showInformationMessage('Model Soups: nothing is cooking.');
    }),
    reg('configureEvaluation', async () => {
      const ws = s.model.workspace;
      if (!ws) return void vscode.window.showWarningMessage('Model Soups: open a folder with fine-tuning runs first.');
      // The first scan may still be running (the command can come first thing after activation).
      if (s.model.state.kind !== 'ready') await s.model.refresh();
      // Folders with a held-out accuracy are runs; a folder with a model and no metrics (a
      // pretrained checkpoint not configured yet) is not, so its model is offered first.
      const runDirs = s.model.state.kind === 'ready' ? s.model.state.scan.runs.filter((r) => r.heldout !== undefined).map((r) => r.dir) : [];
      const written = await configureEvaluation(ws, runDirs, s.onSetupStep);
      if (written) await s.model.refresh();
      return written;
    }),
    reg('showResults', async (arg?: unknown) => {
      const dir = soupDirOf(arg) ?? (await pickSoup(s.model, s.methodLabel));
      return dir ? s.panels.show(dir) : undefined;
    }),
    reg('compareSoups', async (clicked?: unknown, selected?: unknown) => {
      const pair = clicked === undefined && selected === undefined ? await pickTwoSoups(s.model, s.methodLabel) : selectedPair(s.model, clicked, selected);
      return pair ? s.compare.show(pair[0], pair[1]) : undefined;
    }),
    reg('showRun', (node?: unknown) => (node instanceof RunNode ? s.ingredients.showRun(node) : undefined)),
    reg('revealSoup', async (arg?: unknown) => {
      const dir = soupDirOf(arg) ?? (await pickSoup(s.model, s.methodLabel));
      if (!dir) return;
      const soup = s.model.soups.find((x) => x.dir === dir);
      const model = soup?.status === 'ok' ? soup.modelPath : path.join(dir, SOUP_MODEL_FILE);
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(model));
    }),
    // A soup node, a soup folder (the results panel's button) or a pick: cooked again in the worker.
    reg('recook', async (arg?: unknown) => {
      if (!isTrusted()) return void explainRestrictedMode();
      const dir = soupDirOf(arg) ?? (await pickSoup(s.model, s.methodLabel));
      return dir ? s.cooks.recook(dir) : undefined;
    }),
    reg('openReport', async (arg?: unknown) => {
      const dir = soupDirOf(arg) ?? (await pickSoup(s.model, s.methodLabel));
      if (dir) await vscode.window.showTextDocument(vscode.Uri.file(path.join(dir, REPORT_FILE)));
    }),
    reg('includeIngredient', (node?: unknown, selected?: unknown) => setIncluded(s.model, node, selected, true)),
    reg('excludeIngredient', (node?: unknown, selected?: unknown) => setIncluded(s.model, node, selected, false)),
    reg('openMetrics', async (node?: unknown) => {
      const file = node instanceof RunNode ? node.metricsFile : undefined;
      if (file) await vscode.window.showTextDocument(file);
    }),
    reg('reveal', async (node?: unknown) => {
      const uri = node instanceof RunNode ? vscode.Uri.file(node.run.dir) : node instanceof FileNode ? node.uri : node instanceof SoupNode ? vscode.Uri.file(node.dir) : undefined;
      if (uri) await vscode.commands.executeCommand('revealInExplorer', uri);
    }),
  ];
}

function soupDirOf(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg !== '') return arg;
  if (arg instanceof SoupNode) return arg.dir;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  return undefined;
}

async function pickSoup(model: WorkspaceModel, methodLabel: (id: string) => string): Promise<string | undefined> {
  const soups = model.soups.filter((x) => x.status === 'ok');
  if (soups.length === 0) {
    void vscode.window.showInformationMessage('Model Soups: no soups have been cooked in this workspace yet.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(soupPicks(soups, methodLabel), { title: 'Model Soups: choose a soup' });
  return pick?.dir;
}

function soupPicks(soups: readonly SoupSummary[], methodLabel: (id: string) => string): (vscode.QuickPickItem & { dir: string })[] {
  return soups.map((x) => ({ label: x.name, description: x.status === 'ok' ? soupDescription(x, methodLabel) : '', dir: x.dir }));
}

/**
 * The two soups selected in the Soups view (VS Code passes the clicked row and the whole
 * selection), older as A and newer as B, so that B − A reads as what the later cook changed.
 * Anything but exactly two readable soups gets a message saying what to do.
 */
function selectedPair(model: WorkspaceModel, clicked: unknown, selected: unknown): [string, string] | undefined {
  const args = Array.isArray(selected) && selected.length > 0 ? selected : [clicked];
  const dirs = [...new Set(args.map(soupDirOf).filter((d): d is string => d !== undefined))];
  const soups = dirs.map((d) => model.soups.find((x) => x.dir === d));
  if (dirs.length !== 2) {
    void vscode.window.showInformationMessage(`Model Soups: select exactly two soups to compare (${dirs.length} selected). Ctrl+click (Cmd+click on macOS) a second soup in the Soups view, or run “Compare Soups…” from the Command Palette to pick them.`);
    return undefined;
  }
  const unreadable = dirs.filter((_, i) => soups[i]?.status !== 'ok').map((d) => path.basename(d));
  if (unreadable.length > 0) {
    void vscode.window.showWarningMessage(`Model Soups: cannot compare ${unreadable.join(' and ')}: ${unreadable.length === 1 ? 'its report is' : 'their reports are'} not readable.`);
    return undefined;
  }
  const created = (i: number): string => {
    const x = soups[i];
    return x?.status === 'ok' ? x.createdAt : '';
  };
  return created(0) <= created(1) ? [dirs[0], dirs[1]] : [dirs[1], dirs[0]];
}

/** The palette's way: pick soup A, then soup B among the others. */
async function pickTwoSoups(model: WorkspaceModel, methodLabel: (id: string) => string): Promise<[string, string] | undefined> {
  const soups = model.soups.filter((x) => x.status === 'ok');
  if (soups.length < 2) {
    void vscode.window.showInformationMessage(`Model Soups: comparing needs two cooked soups; this workspace has ${soups.length}.`);
    return undefined;
  }
  const items = soupPicks(soups, methodLabel);
  const a = await vscode.window.showQuickPick(items, { title: 'Model Soups: compare soups (1/2): choose soup A' });
  if (!a) return undefined;
  const b = await vscode.window.showQuickPick(items.filter((i) => i.dir !== a.dir), { title: `Model Soups: compare soups (2/2): choose soup B, compared with ${a.label}` });
  return b ? [a.dir, b.dir] : undefined;
}

async function pickMethod(methods: readonly SoupMethodDescriptor[]): Promise<string | undefined> {
  const pick = await vscode.window.showQuickPick(
    methods.map((m) => ({ label: m.label, description: m.id, detail: m.reference, id: m.id })),
    { title: 'Model Soups: cook the checked ingredients with…' },
  );
  return pick?.id;
}

async function setIncluded(model: WorkspaceModel, node: unknown, selected: unknown, included: boolean): Promise<void> {
  if (!isTrusted()) return void explainRestrictedMode();
  const nodes = Array.isArray(selected) && selected.length > 0 ? selected : [node];
  const ids = nodes.filter((n): n is RunNode => n instanceof RunNode && n.run.status === 'ok').map((n) => n.run.id);
  if (ids.length > 0) await model.setIncluded(ids, included);
}
