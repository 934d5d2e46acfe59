import * as vscode from 'vscode';
import { describeSoupMethod, soupCatalogue } from '../engine/soups/catalogue';
import { registerCommands } from './commands';
import { CookController } from './cookController';
import { IngredientsTree } from './ingredientsTree';
import { JobRunner } from './jobRunner';
import { RESULTS_VIEW_TYPE, ResultsPanels } from './resultsPanel';
import { SoupsTree } from './soupsTree';
import { JobStatusBar } from './statusBar';
import { createApi, type ModelSoupsApi } from './testApi';
import { isTrusted } from './trust';
import { WorkspaceModel } from './workspaceModel';

// Wiring only: build the services, hand every disposable to VS Code. Activation does no I/O
// beyond starting the first (asynchronous) scan; the cook engine lives in dist/worker.js.
export function activate(context: vscode.ExtensionContext): ModelSoupsApi {
  const log = vscode.window.createOutputChannel('Model Soups', { log: true });
  const methodLabel = (id: string): string => describeSoupMethod(id, false).label;

  const model = new WorkspaceModel(context.workspaceState, log);
  const ingredients = new IngredientsTree(model, isTrusted);
  const soups = new SoupsTree(model, methodLabel);
  const panels = new ResultsPanels(context.extensionUri, log);
  const statusBar = new JobStatusBar();
  const runner = new JobRunner(context.asAbsolutePath('dist/worker.js'), log);
  const cooks = new CookController(model, runner, statusBar, log, ingredients, soups, methodLabel, (dir) => panels.show(dir));

  context.subscriptions.push(
    log,
    model,
    ingredients,
    soups,
    panels,
    statusBar,
    cooks,
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, panels),
    ...registerCommands({ model, cooks, panels, methods: soupCatalogue }),
    model.onDidChange(() => void vscode.commands.executeCommand('setContext', 'modelSoups.state', ingredients.sidebarState)),
  );
  void vscode.commands.executeCommand('setContext', 'modelSoups.state', 'loading');
  void model.refresh();
  return createApi(model, ingredients, cooks, panels);
}

export function deactivate(): void {
  // Everything is in context.subscriptions; a running worker is stopped by CookController.dispose.
}
