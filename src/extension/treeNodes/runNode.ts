import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunRecord } from '../../engine/discovery/runRecord';
import type { ArchitectureGroup } from '../../engine/discovery/workspaceScan';
import { FileNode, FolderNode, hparamsFolder } from './detailNodes';
import { formatBytes, formatPercent } from '../../shared/format';
import type { TreeNode } from './treeNode';

/** What a run row needs besides the run itself. */
export interface RunRowContext {
  /** Absolute workspace folder (metrics sources are relative to it). */
  workspace: string;
  included: boolean;
  /** Checkboxes and include/exclude exist only in a trusted workspace. */
  trusted: boolean;
  modelBytes?: number;
  group?: ArchitectureGroup;
}

/**
 * One fine-tuning run. `contextValue` is `run:<status>[:included|:excluded][:metrics]` so that
 * menus in package.json can match on it (`viewItem =~ /^run:ok:excluded/`).
 */
export class RunNode implements TreeNode {
  constructor(
    readonly run: RunRecord,
    private readonly ctx: RunRowContext,
  ) {}

  get checkable(): boolean {
    return this.run.status === 'ok' && this.ctx.trusted;
  }

  get description(): string {
    const parts = [formatPercent(this.run.heldout), this.run.layout];
    if (this.run.checkpoint) parts.push(this.run.checkpoint);
    if (this.run.status !== 'ok') parts.push(`${this.run.status}: ${this.run.reason ?? 'no reason given'}`);
    return parts.join(' · ');
  }

  getTreeItem(): vscode.TreeItem {
    const r = this.run;
    const item = new vscode.TreeItem(r.id, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `run:${r.id}`;
    item.description = this.description;
    item.tooltip = this.tooltip();
    item.iconPath = r.status === 'ok' ? new vscode.ThemeIcon('beaker') : new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    if (this.checkable) item.checkboxState = this.ctx.included ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    const parts = ['run', r.status];
    if (this.checkable) parts.push(this.ctx.included ? 'included' : 'excluded');
    if (r.metricsSource) parts.push('metrics');
    item.contextValue = parts.join(':');
    item.accessibilityInformation = { label: `${r.id}, ${this.description}${this.checkable ? (this.ctx.included ? ', included' : ', excluded') : ''}` };
    return item;
  }

  getChildren(): TreeNode[] {
    const r = this.run;
    const files = [...new Set([...r.files, r.modelPath])].sort().map((f) => new FileNode(f, r.dir));
    return [hparamsFolder(`run:${r.id}`, r.hparams), new FolderNode(`run:${r.id}:files`, 'Files', files, new vscode.ThemeIcon('files'))];
  }

  /** The run's metrics file, when its held-out accuracy was read from one. */
  get metricsFile(): vscode.Uri | undefined {
    const src = this.run.metricsSource;
    if (!src) return undefined;
    return vscode.Uri.file(path.resolve(this.ctx.workspace, src.file));
  }

  private tooltip(): vscode.MarkdownString {
    const r = this.run;
    // appendText escapes Markdown: run names and hyperparameters come from the workspace.
    const md = new vscode.MarkdownString();
    md.appendMarkdown('**');
    md.appendText(r.id);
    md.appendMarkdown('**\n\n');
    md.appendText(`Held-out accuracy: ${formatPercent(r.heldout)}\n`);
    md.appendMarkdown('\n\n');
    md.appendText(r.metricsSource ? `Metric source: ${r.metricsSource.file} → ${r.metricsSource.field}` : 'Metric source: none found');
    md.appendMarkdown('\n\n');
    md.appendText(`Layout: ${r.layout}${r.checkpoint ? ` (${r.checkpoint})` : ''}`);
    md.appendMarkdown('\n\n');
    const params = this.ctx.group ? `, ${this.ctx.group.parameterCount.toLocaleString('en-US')} parameters` : '';
    md.appendText(`Model: ${formatBytes(this.ctx.modelBytes)}${params}`);
    if (r.status !== 'ok') {
      md.appendMarkdown('\n\n$(warning) ');
      md.appendText(`${r.status}: ${r.reason ?? 'no reason given'}`);
      md.supportThemeIcons = true;
    }
    for (const w of r.warnings ?? []) {
      md.appendMarkdown('\n\n$(info) ');
      md.appendText(w);
      md.supportThemeIcons = true;
    }
    const hp = Object.entries(r.hparams);
    if (hp.length > 0) {
      md.appendMarkdown('\n\n---\n\n');
      md.appendText(hp.map(([k, v]) => `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
    }
    return md;
  }
}
