import type * as vscode from 'vscode';

/** A row of one of the sidebar trees; each node class knows how it looks and what it holds. */
export interface TreeNode {
  getTreeItem(): vscode.TreeItem;
  getChildren(): TreeNode[];
}
