import * as path from 'node:path';
import * as vscode from 'vscode';
import { REPORT_FILE, SOUP_MODEL_FILE } from '../engine/report';
import type { SoupMethodDescriptor } from '../engine/soups/catalogue';
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
  const pick = await vscode.window.showQuickPick(
    soups.map((x) => ({ label: x.name, description: x.status === 'ok' ? soupDescription(x, methodLabel) : '', dir: x.dir })),
    { title: 'Model Soups: choose a soup' },
  );
  return pick?.dir;
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
