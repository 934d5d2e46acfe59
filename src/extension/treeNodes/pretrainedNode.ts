import * as vscode from 'vscode';
import type { WorkspaceScan } from '../../engine/discovery/scanResult';
import type { TreeNode } from './treeNode';

/** The configured pretrained model: the shared init, shown apart, never an ingredient. */
export class PretrainedNode implements TreeNode {
  constructor(private readonly pretrained: NonNullable<WorkspaceScan['pretrained']>) {}

  getTreeItem(): vscode.TreeItem {
    const p = this.pretrained;
    const item = new vscode.TreeItem(p.id, vscode.TreeItemCollapsibleState.None);
    item.id = 'pretrained';
    item.description = p.reason ? `pretrained (reference) · ${p.reason}` : 'pretrained (reference) · not an ingredient';
    item.tooltip = new vscode.MarkdownString().appendMarkdown('**Pretrained / reference model**\n\n').appendText(`${p.path}\n\nThe shared initialisation the runs were fine-tuned from. Shown for reference; it is never averaged into a soup.${p.reason ? `\n\nProblem: ${p.reason}` : ''}`);
    item.iconPath = p.reason ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')) : new vscode.ThemeIcon('pinned');
    item.contextValue = 'pretrained';
    item.resourceUri = vscode.Uri.file(p.path);
    item.command = { command: 'vscode.open', title: 'Open File', arguments: [vscode.Uri.file(p.path), { preview: true }] };
    return item;
  }

  getChildren(): TreeNode[] {
    return [];
  }
}
