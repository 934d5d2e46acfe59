import * as vscode from 'vscode';
import type { RunRecord } from '../engine/discovery/runRecord';
import type { WorkspaceScan } from '../engine/discovery/scanResult';
import { DATASET_FORMS } from './datasetForms';
import { GroupNode } from './treeNodes/groupNode';
import { MessageNode } from './treeNodes/messageNode';
import { PretrainedNode } from './treeNodes/pretrainedNode';
import { RunNode } from './treeNodes/runNode';
import { shortRunLabels } from '../shared/runLabels';
import type { TreeNode } from './treeNodes/treeNode';
import type { ModelState, WorkspaceModel } from './workspaceModel';

const INGREDIENTS_VIEW = 'modelSoups.ingredients';

/** The sidebar situation, exposed as the `modelSoups.state` context key for the welcome views. */
export type SidebarState = 'loading' | 'noFolder' | 'noRuns' | 'noEvalData' | 'configError' | 'scanError' | 'ready';

/** A run row as the tree shows it (for the test API and logs). */
export interface IngredientRow {
  id: string;
  label: string;
  description: string;
  status: RunRecord['status'];
  /** Undefined when the row has no checkbox (not an eligible ingredient, or untrusted). */
  checked?: boolean;
  contextValue: string;
}

/**
 * The Ingredients view: runs sorted by held-out accuracy (the scan's order), grouped by
 * architecture when there is more than one group, the pretrained model apart. The provider
 * only maps the model's state to node objects; nodes decide how they look.
 */
export class IngredientsTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<TreeNode>;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private roots: TreeNode[] = [];
  private runNodes: RunNode[] = [];
  private parents = new Map<TreeNode, TreeNode>();
  private lastCook?: string;

  constructor(
    private readonly model: WorkspaceModel,
    private readonly trusted: () => boolean,
  ) {
    this.view = vscode.window.createTreeView(INGREDIENTS_VIEW, {
      treeDataProvider: this,
      showCollapseAll: true,
      canSelectMany: true,
      // Checking a run must not check its children (they have no checkboxes anyway).
      manageCheckboxStateManually: true,
    });
    this.disposables.push(
      this.view,
      this.view.onDidChangeCheckboxState((e) => void this.onCheckboxes(e)),
      model.onDidChange(() => this.rebuild()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.rebuild()),
    );
    this.rebuild();
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    return node.getTreeItem();
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? node.getChildren() : this.roots;
  }

  getParent(node: TreeNode): TreeNode | undefined {
    return this.parents.get(node);
  }

  /** Selects a run's row and expands it to show its details, staying in this view. */
  async showRun(node: RunNode): Promise<void> {
    await this.view.reveal(node, { select: true, focus: true, expand: true });
  }

  /** The run rows in the order the tree shows them (group by group, top to bottom). */
  rows(): IngredientRow[] {
    return this.runNodes.map((n) => {
      const item = n.getTreeItem();
      return {
        id: n.run.id,
        label: typeof item.label === 'string' ? item.label : item.label?.label ?? '',
        description: typeof item.description === 'string' ? item.description : '',
        status: n.run.status,
        checked: item.checkboxState === undefined ? undefined : item.checkboxState === vscode.TreeItemCheckboxState.Checked,
        contextValue: item.contextValue ?? '',
      };
    });
  }

  /** Shows the outcome of the last cook above the tree, without opening the results panel. */
  showLastCook(text: string | undefined): void {
    this.lastCook = text;
    this.updateMessage();
  }

  /** Ids of the selected runs. */
  get selectedRuns(): string[] {
    return this.view.selection.filter((n): n is RunNode => n instanceof RunNode).map((n) => n.run.id);
  }

  /** The detail rows under a run (or under its child folder labelled `folder`). */
  runDetails(runId: string, folder?: string): vscode.TreeItem[] {
    const run = this.runNodes.find((n) => n.run.id === runId);
    let children = run?.getChildren() ?? [];
    if (folder) children = children.find((c) => c.getTreeItem().label === folder)?.getChildren() ?? [];
    return children.map((c) => c.getTreeItem());
  }

  /** The text above the tree (counts, the last cook), if any. */
  get message(): string | undefined {
    return this.view.message;
  }

  /** The sidebar situation, for the welcome-view context key. */
  get sidebarState(): SidebarState {
    return sidebarState(this.model.state);
  }

  private async onCheckboxes(e: vscode.TreeCheckboxChangeEvent<TreeNode>): Promise<void> {
    const on: string[] = [];
    const off: string[] = [];
    let refused: RunNode | undefined;
    for (const [node, state] of e.items) {
      if (!(node instanceof RunNode)) continue;
      if (!node.checkable) {
        if (state === vscode.TreeItemCheckboxState.Checked) refused = node;
        continue;
      }
      (state === vscode.TreeItemCheckboxState.Checked ? on : off).push(node.run.id);
    }
    if (on.length > 0) await this.model.setIncluded(on, true);
    if (off.length > 0) await this.model.setIncluded(off, false);
    if (refused) {
      // Put the box back and say why: an unusable run can never be cooked.
      this.rebuild();
      void vscode.window.showWarningMessage(`Model Soups: ${refused.run.id} cannot be an ingredient (${refused.run.status}): ${refused.run.reason ?? 'no reason given'}`);
    }
  }

  private rebuild(): void {
    const state = this.model.state;
    this.runNodes = [];
    this.parents = new Map();
    switch (sidebarState(state)) {
      case 'configError':
        if (state.kind === 'configError') {
          const open = state.file ? { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(state.file)] } : undefined;
          this.roots = [new MessageNode('modelsoups.json is invalid', state.message, open)];
        }
        break;
      case 'scanError':
        if (state.kind === 'scanError') this.roots = [new MessageNode('Scanning the workspace failed', state.message, { command: 'modelSoups.refresh', title: 'Refresh' })];
        break;
      case 'ready':
        if (state.kind === 'ready') this.roots = this.buildRuns(state.scan);
        break;
      case 'noEvalData':
        // The runs stay visible (ranked by their own metrics) below the one thing left to do.
        if (state.kind === 'ready') {
          const configure = new MessageNode('Configure Evaluation Data…', 'choose the held-out data to cook soups', { command: 'modelSoups.configureEvaluation', title: 'Configure Evaluation Data' }, 'gear', DATASET_FORMS);
          this.roots = [configure, ...this.buildRuns(state.scan)];
        }
        break;
      default:
        // Empty: the welcome view for this state explains what to do.
        this.roots = [];
    }
    this.updateMessage();
    this.changed.fire(undefined);
  }

  private buildRuns(scan: WorkspaceScan): TreeNode[] {
    const trusted = this.trusted();
    const groupOf = new Map(scan.groups.flatMap((g) => g.runIds.map((id) => [id, g] as const)));
    const labels = shortRunLabels(scan.runs.map((r) => r.id));
    const node = (r: RunRecord): RunNode =>
      new RunNode(r, { workspace: scan.workspace, included: this.model.isIncluded(r.id), trusted, modelBytes: this.model.modelSize(r.id), group: groupOf.get(r.id), label: labels.get(r.id) });
    const roots: TreeNode[] = [];
    if (scan.groups.length > 1) {
      // The souped group first, then the others by size; runs keep the scan's accuracy order.
      const groups = [...scan.groups].sort((a, b) => Number(b.key === scan.primaryGroup) - Number(a.key === scan.primaryGroup) || b.runIds.length - a.runIds.length);
      for (const g of groups) {
        const runs = scan.runs.filter((r) => groupOf.get(r.id)?.key === g.key).map(node);
        this.runNodes.push(...runs);
        const group = new GroupNode(g, runs, g.key === scan.primaryGroup);
        for (const r of runs) this.parents.set(r, group);
        roots.push(group);
      }
      const loose = scan.runs.filter((r) => !groupOf.has(r.id)).map(node);
      if (loose.length > 0) {
        this.runNodes.push(...loose);
        const group = new GroupNode(undefined, loose, false);
        for (const r of loose) this.parents.set(r, group);
        roots.push(group);
      }
    } else {
      this.runNodes = scan.runs.map(node);
      roots.push(...this.runNodes);
    }
    if (scan.pretrained) roots.push(new PretrainedNode(scan.pretrained));
    return roots;
  }

  private updateMessage(): void {
    const lines: string[] = [];
    if (this.lastCook) lines.push(this.lastCook);
    const state = this.model.state;
    if (state.kind === 'ready') {
      const found = state.scan.runs.length;
      const eligible = state.scan.runs.filter((r) => r.status === 'ok').length;
      const checked = this.model.checkedIngredients().length;
      if (!state.config.datasets.heldout && found > 0) lines.push(`${found} run${found === 1 ? '' : 's'} found, ranked by their own metrics. No held-out data is configured yet: configure it to cook soups.`);
      if (!this.trusted()) lines.push('Restricted Mode: read-only, cooking is off until you trust this workspace.');
      else if (checked < found) {
        const unusable = found - eligible;
        lines.push(`${checked} of ${eligible} usable runs checked (${found} found${unusable > 0 ? `, ${unusable} unusable` : ''}): soups are cooked from the checked ones.`);
      }
    }
    this.view.message = lines.length > 0 ? lines.join('\n') : undefined;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** Maps the model's state to the situation the welcome views know about. */
export function sidebarState(state: ModelState): SidebarState {
  switch (state.kind) {
    case 'loading':
    case 'noFolder':
    case 'configError':
    case 'scanError':
      return state.kind;
    case 'ready':
      if (state.scan.runs.length === 0) return 'noRuns';
      if (!state.config.datasets.heldout) return 'noEvalData';
      return 'ready';
  }
}
