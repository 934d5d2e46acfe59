import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HParamValue } from '../../engine/discovery/runRecord';
import type { TreeNode } from './treeNode';

/** A plain leaf: a label and a description (e.g. one hyperparameter). */
export class InfoNode implements TreeNode {
  constructor(
    private readonly label: string,
    private readonly description?: string,
    private readonly icon?: vscode.ThemeIcon,
    private readonly tooltip?: string,
  ) {}

  getTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.label, vscode.TreeItemCollapsibleState.None);
    item.description = this.description;
    item.iconPath = this.icon;
    item.tooltip = this.tooltip ?? (this.description ? `${this.label}: ${this.description}` : this.label);
    item.contextValue = 'info';
    return item;
  }

  getChildren(): TreeNode[] {
    return [];
  }
}

/** A collapsible folder of children (hyperparameters, files, members). */
export class FolderNode implements TreeNode {
  constructor(
    private readonly id: string,
    private readonly label: string,
    private readonly children: TreeNode[],
    private readonly icon: vscode.ThemeIcon,
    private readonly expanded = false,
  ) {}

  getTreeItem(): vscode.TreeItem {
    const state = this.children.length === 0 ? vscode.TreeItemCollapsibleState.None : this.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(this.label, state);
    item.id = this.id;
    item.description = this.children.length === 0 ? 'none' : `${this.children.length}`;
    item.iconPath = this.icon;
    item.contextValue = 'folder';
    return item;
  }

  getChildren(): TreeNode[] {
    return this.children;
  }
}

/** The hyperparameters of a run as a folder of `key: value` rows. */
export function hparamsFolder(idPrefix: string, hparams: Record<string, HParamValue>): FolderNode {
  const rows = Object.entries(hparams)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => new InfoNode(k, formatHParam(v), new vscode.ThemeIcon('symbol-property')));
  return new FolderNode(`${idPrefix}:hparams`, 'Hyperparameters', rows, new vscode.ThemeIcon('settings'));
}

/**
 * One file of a run. A click opens it (binary files in VS Code's binary editor) and keeps the
 * Model Soups view in the sidebar; "Reveal in Explorer" is on the context menu.
 */
export class FileNode implements TreeNode {
  constructor(
    private readonly file: string,
    private readonly base: string,
  ) {}

  getTreeItem(): vscode.TreeItem {
    const uri = vscode.Uri.file(this.file);
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.None);
    item.label = path.basename(this.file);
    const rel = path.relative(this.base, path.dirname(this.file));
    item.description = rel && rel !== '.' ? rel : undefined;
    item.tooltip = this.file;
    item.contextValue = 'file';
    item.command = { command: 'vscode.open', title: 'Open File', arguments: [uri, { preview: true }] };
    return item;
  }

  getChildren(): TreeNode[] {
    return [];
  }

  /** For context-menu commands that receive the node. */
  get uri(): vscode.Uri {
    return vscode.Uri.file(this.file);
  }
}

/** A hyperparameter value on one line. */
function formatHParam(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
