import * as vscode from 'vscode';
import type { SoupEntry, SoupSummary } from '../../engine/soupIndex';
import { FolderNode, InfoNode } from './detailNodes';
import { formatGain, formatPercent } from '../../shared/format';
import type { TreeNode } from './treeNode';

/** One cooked soup (a folder with `report.json`); selecting it opens its results panel. */
export class SoupNode implements TreeNode {
  constructor(
    readonly soup: SoupSummary,
    private readonly methodLabel: (id: string) => string,
    private readonly expanded = false,
  ) {}

  get dir(): string {
    return this.soup.dir;
  }

  getTreeItem(): vscode.TreeItem {
    const s = this.soup;
    if (s.status === 'unreadable') {
      const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
      item.id = `soup:${s.dir}`;
      item.description = `unreadable · ${s.reason}`;
      item.tooltip = new vscode.MarkdownString().appendText(`${s.dir}\n\n${s.reason}`);
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
      item.contextValue = 'soup:unreadable';
      return item;
    }
    const item = new vscode.TreeItem(s.name, this.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `soup:${s.dir}`;
    item.description = soupDescription(s);
    item.tooltip = new vscode.MarkdownString().appendMarkdown(`**${this.methodLabel(s.method)}**\n\n`).appendText(soupSummaryText(s));
    item.iconPath = new vscode.ThemeIcon('package');
    item.contextValue = 'soup:ok';
    item.command = { command: 'modelSoups.showResults', title: 'Show Results', arguments: [s.dir] };
    return item;
  }

  getChildren(): TreeNode[] {
    const s = this.soup;
    if (s.status !== 'ok') return [];
    const best = s.bestIndividual;
    return [
      new InfoNode('Held-out', `${formatPercent(s.heldout)} (${formatGain(s.heldout, best.heldout)} vs best individual)`, new vscode.ThemeIcon('target')),
      new InfoNode('Shift average', `${formatPercent(s.shiftAvg)} (${formatGain(s.shiftAvg, best.shiftAvg)} vs best individual)`, new vscode.ThemeIcon('graph')),
      new FolderNode(`soup:${s.dir}:members`, 'Members', s.members.map((m, i) => new InfoNode(m, `#${i + 1}`, new vscode.ThemeIcon('beaker'))), new vscode.ThemeIcon('list-ordered')),
    ];
  }
}

/** "greedy · 5 members · 88.9 % / 60.6 %" (held-out / shift average). */
export function soupDescription(s: SoupEntry): string {
  return `${s.method} · ${s.members.length} member${s.members.length === 1 ? '' : 's'} · ${formatPercent(s.heldout)} / ${formatPercent(s.shiftAvg)}`;
}

/** The inline result of a cook: method, members and the gains over the best individual. */
export function soupSummaryText(s: SoupEntry): string {
  const best = s.bestIndividual;
  return (
    `${s.members.length} member${s.members.length === 1 ? '' : 's'} · ` +
    `held-out ${formatPercent(s.heldout)} (${formatGain(s.heldout, best.heldout)}) · ` +
    `shift avg ${formatPercent(s.shiftAvg)} (${formatGain(s.shiftAvg, best.shiftAvg)}) vs best individual${best.id ? ` ${best.id}` : ''}`
  );
}
