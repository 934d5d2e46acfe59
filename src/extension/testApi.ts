import type * as vscode from 'vscode';
import type { CookProgress } from '../engine/cookPlan';
import type { WorkspaceScan } from '../engine/discovery/workspaceScan';
import type { SoupSummary } from '../engine/soupIndex';
import type { CookController, CookOutcome } from './cookController';
import type { IngredientRow, IngredientsTree, SidebarState } from './ingredientsTree';
import type { PanelInfo, ResultsPanels } from './resultsPanel';
import type { WorkspaceModel } from './workspaceModel';

/**
 * What `activate()` returns: a small read-only window into the extension for the integration
 * tests (and for other extensions), so tests check behaviour without reaching into internals.
 */
export interface ModelSoupsApi {
  /** Absolute workspace folder the extension works on. */
  workspace(): string | undefined;
  /** Rescans now; resolves when the trees show the result. */
  refresh(): Promise<void>;
  /** The last scan, as the engine returned it. */
  scan(): WorkspaceScan | undefined;
  /** The sidebar situation (drives the welcome views). */
  sidebarState(): SidebarState;
  /** The Ingredients tree's run rows, in display order. */
  ingredientRows(): IngredientRow[];
  /** The TreeItem the Ingredients tree hands VS Code for a run (label, tooltip, checkbox). */
  ingredientItem(runId: string): vscode.TreeItem | undefined;
  /** Soups listed in the Soups view. */
  soups(): readonly SoupSummary[];
  /** Whether a cook is running. */
  isCooking(): boolean;
  /** How the last cook command ended. */
  lastJob(): CookOutcome | undefined;
  /** Pid of the running cook's worker process, if one is running. */
  workerPid(): number | undefined;
  /** How many cook worker processes have been started since activation. */
  workersStarted(): number;
  /** Progress of the running cook. */
  onJobProgress: vscode.Event<CookProgress>;
  /** Open results panels. */
  panels(): PanelInfo[];
  /** Fires when a results panel's webview has drawn its report. */
  onPanelRendered: vscode.Event<PanelInfo>;
  /** What VS Code does after a window reload: hands a bare panel and its saved state to the serializer. */
  restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void>;
}

export function createApi(model: WorkspaceModel, tree: IngredientsTree, cooks: CookController, panels: ResultsPanels): ModelSoupsApi {
  return {
    workspace: () => model.workspace,
    refresh: () => model.refresh(),
    scan: () => (model.state.kind === 'ready' ? model.state.scan : undefined),
    sidebarState: () => tree.sidebarState,
    ingredientRows: () => tree.rows(),
    ingredientItem: (runId) => {
      // Walks what the provider gives VS Code (runs sit at the root or one group down).
      const items = tree.getChildren().flatMap((n) => [n, ...n.getChildren()]).map((n) => tree.getTreeItem(n));
      return items.find((i) => i.id === `run:${runId}`);
    },
    soups: () => model.soups,
    isCooking: () => cooks.running,
    lastJob: () => cooks.lastOutcome,
    workerPid: () => cooks.workerPid,
    workersStarted: () => cooks.workersStarted,
    onJobProgress: cooks.onProgress,
    panels: () => panels.list(),
    onPanelRendered: panels.onDidRender,
    restorePanel: (panel, state) => panels.deserializeWebviewPanel(panel, state),
  };
}
