import * as vscode from 'vscode';
import { describeSoupMethod, soupCatalogue } from '../engine/soups/catalogue';
import { registerCommands } from './commands';
import { COMPARE_VIEW_TYPE, ComparePanels } from './comparePanel';
import { readSettings } from './config';
import { CookController } from './cookController';
import { IngredientsTree } from './ingredientsTree';
import { JobRunner } from './jobRunner';
import { RESULTS_VIEW_TYPE, ResultsPanels } from './resultsPanel';
import { SoupsTree } from './soupsTree';
import { createApi, type ModelSoupsApi, type SetupStep } from './testApi';
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
  const compare = new ComparePanels(context.extensionUri, log, (dir) => panels.show(dir));
  const runner = new JobRunner(context.asAbsolutePath('dist/worker.js'), log);
  const openAfterCook = (): boolean => readSettings(model.workspace ? vscode.Uri.file(model.workspace) : undefined).openResultsAfterCook;
  const cooks = new CookController(model, runner, log, ingredients, soups, methodLabel, (dir, background) => panels.show(dir, background), openAfterCook);
  const setupSteps = new vscode.EventEmitter<SetupStep>();

  context.subscriptions.push(
    log,
    model,
    ingredients,
    soups,
    panels,
    compare,
    cooks,
    setupSteps,
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, panels),
    vscode.window.registerWebviewPanelSerializer(COMPARE_VIEW_TYPE, compare),
    ...registerCommands({ model, cooks, panels, compare, ingredients, methods: soupCatalogue, methodLabel, onSetupStep: (pick, step) => setupSteps.fire({ pick, step }) }),
    model.onDidChange(() => void vscode.commands.executeCommand('setContext', 'modelSoups.state', ingredients.sidebarState)),
  );
  void vscode.commands.executeCommand('setContext', 'modelSoups.state', 'loading');
  void model.refresh();
  return createApi(model, ingredients, soups, cooks, panels, setupSteps.event, compare);
}

export function deactivate(): void {
  // Everything is in context.subscriptions; a running worker is stopped by CookController.dispose.
}
