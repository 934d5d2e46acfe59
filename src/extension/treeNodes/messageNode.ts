import * as vscode from 'vscode';
import type { TreeNode } from './treeNode';

/** A row that explains a problem (bad config, failed scan) and offers the command that fixes it. */
export class MessageNode implements TreeNode {
  constructor(
    private readonly label: string,
    private readonly detail: string,
    private readonly command?: vscode.Command,
    /** A codicon name; the default marks an error. */
    private readonly icon?: string,
    /** More than fits in the row, for the tooltip. */
    private readonly more?: string,
  ) {}

  getTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.label, vscode.TreeItemCollapsibleState.None);
    item.description = this.detail;
    item.tooltip = `${this.label}\n\n${this.detail}${this.more ? `\n\n${this.more}` : ''}`;
    item.iconPath = this.icon ? new vscode.ThemeIcon(this.icon) : new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
    item.command = this.command;
    item.contextValue = 'message';
    return item;
  }

  getChildren(): TreeNode[] {
    return [];
  }
}
