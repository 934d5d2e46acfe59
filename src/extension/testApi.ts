import type * as vscode from 'vscode';
import type { CookProgress } from '../engine/cookPlan';
import type { WorkspaceScan } from '../engine/discovery/scanResult';
import type { SoupSummary } from '../engine/soupIndex';
import type { ComparePanelInfo, ComparePanels } from './comparePanel';
import type { CookController, CookOutcome } from './cookController';
import type { IngredientRow, IngredientsTree, SidebarState } from './ingredientsTree';
import type { PanelInfo, ResultsPanels } from './resultsPanel';
import type { SoupsTree } from './soupsTree';
import type { WorkspaceModel } from './workspaceModel';

/** A step of Configure Evaluation Data as it is shown: the live quick pick and its number. */
export interface SetupStep {
  pick: vscode.QuickPick<vscode.QuickPickItem>;
  step: number;
}

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
  /** Ticks or unticks runs, as the tree's checkboxes do. */
  setChecked(runIds: string[], checked: boolean): Promise<void>;
  /** Ids of the runs selected in the Ingredients tree. */
  ingredientSelection(): string[];
  /** The detail rows under a run, or under its child folder labelled `folder` ('Files'). */
  ingredientDetails(runId: string, folder?: string): vscode.TreeItem[];
  /** The top-level rows of the Ingredients tree as VS Code gets them (runs, groups, messages). */
  ingredientRoots(): vscode.TreeItem[];
  /** The text shown above the Ingredients tree (counts, last cook), if any. */
  ingredientsMessage(): string | undefined;
  /** Soups listed in the Soups view. */
  soups(): readonly SoupSummary[];
  /** The Soups view's rows as VS Code gets them. */
  soupItems(): vscode.TreeItem[];
  /** Each step of Configure Evaluation Data, once it is on screen. */
  onSetupStep: vscode.Event<SetupStep>;
  /** Where a soup's results panel is and whether it is in front. */
  panelPlacement(soupDir: string): { viewColumn?: vscode.ViewColumn; visible: boolean; active: boolean } | undefined;
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
  /** The compare panel, if open: its two soups and what its webview drew. */
  comparePanel(): ComparePanelInfo | undefined;
  /** Fires when the compare panel's webview has drawn a pair of soups. */
  onComparePanelRendered: vscode.Event<ComparePanelInfo>;
  /** What VS Code does with a compare panel after a window reload (see {@link restorePanel}). */
  restoreComparePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void>;
  /** What VS Code does after a window reload: hands a bare panel and its saved state to the serializer. */
  restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void>;
}

export function createApi(model: WorkspaceModel, tree: IngredientsTree, soupsTree: SoupsTree, cooks: CookController, panels: ResultsPanels, onSetupStep: vscode.Event<SetupStep>, compare: ComparePanels): ModelSoupsApi {
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
    setChecked: (ids, checked) => model.setIncluded(ids, checked),
    ingredientSelection: () => tree.selectedRuns,
    ingredientDetails: (runId, folder) => tree.runDetails(runId, folder),
    ingredientRoots: () => tree.getChildren().map((n) => tree.getTreeItem(n)),
    ingredientsMessage: () => tree.message,
    soups: () => model.soups,
    soupItems: () => soupsTree.items(),
    onSetupStep,
    panelPlacement: (dir) => panels.placement(dir),
    isCooking: () => cooks.running,
    lastJob: () => cooks.lastOutcome,
    workerPid: () => cooks.workerPid,
    workersStarted: () => cooks.workersStarted,
    onJobProgress: cooks.onProgress,
    panels: () => panels.list(),
    onPanelRendered: panels.onDidRender,
    comparePanel: () => compare.info(),
    onComparePanelRendered: compare.onDidRender,
    restoreComparePanel: (panel, state) => compare.deserializeWebviewPanel(panel, state),
    restorePanel: (panel, state) => panels.deserializeWebviewPanel(panel, state),
  };
}
