import * as vscode from 'vscode';
import type { ArchitectureGroup } from '../../engine/discovery/scanResult';
import type { RunNode } from './runNode';
import type { TreeNode } from './treeNode';

/** Runs sharing one architecture; only shown when the workspace has more than one. */
export class GroupNode implements TreeNode {
  constructor(
    private readonly group: ArchitectureGroup | undefined,
    private readonly runs: RunNode[],
    private readonly primary: boolean,
  ) {}

  getTreeItem(): vscode.TreeItem {
    const label = this.group?.label ?? 'Unknown architecture';
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `group:${this.group?.key ?? 'unknown'}`;
    item.description = `${this.runs.length} run${this.runs.length === 1 ? '' : 's'}${this.primary ? ' · souped' : ''}`;
    item.tooltip = this.primary
      ? 'Soups are cooked from this group (the largest group of scored runs). Runs in other groups are incompatible.'
      : 'Runs with this architecture cannot be averaged with the souped group.';
    item.iconPath = new vscode.ThemeIcon(this.primary ? 'layers-active' : 'layers');
    item.contextValue = 'group';
    return item;
  }

  getChildren(): TreeNode[] {
    return this.runs;
  }
}
