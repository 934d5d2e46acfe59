import * as vscode from 'vscode';
import { SoupNode } from './treeNodes/soupNode';
import type { TreeNode } from './treeNodes/treeNode';
import type { WorkspaceModel } from './workspaceModel';

const SOUPS_VIEW = 'modelSoups.soups';

/** The Soups view: every soup in the output folder, newest first, read from its report.json. */
export class SoupsTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<TreeNode>;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private roots: SoupNode[] = [];
  /** The soup of the job that just finished: shown expanded so its summary is visible. */
  private highlight?: string;

  constructor(
    private readonly model: WorkspaceModel,
    private readonly methodLabel: (id: string) => string,
  ) {
    // Several soups can be selected: Compare Soups… takes two.
    this.view = vscode.window.createTreeView(SOUPS_VIEW, { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(this.view, model.onDidChange(() => this.rebuild()));
    this.rebuild();
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    return node.getTreeItem();
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? node.getChildren() : this.roots;
  }

  /** Expands the given soup once it appears (after a cook). */
  highlightSoup(dir: string): void {
    this.highlight = dir;
    this.rebuild();
  }

  /** The soup rows as VS Code gets them (for the test API). */
  items(): vscode.TreeItem[] {
    return this.roots.map((n) => n.getTreeItem());
  }

  private rebuild(): void {
    // Only the newest soup of this session opens expanded; older ones stay collapsed.
    this.roots = this.model.soups.map((s) => new SoupNode(s, this.methodLabel, s.dir === this.highlight));
    // An empty list leaves room for the welcome view and its Cook buttons (package.json).
    this.changed.fire(undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
