import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunRecord, RunWeights } from '../../engine/discovery/runRecord';
import type { ArchitectureGroup } from '../../engine/discovery/scanResult';
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
  /** The row's label: the id's distinctive end (see shared/runLabels.ts); the tooltip has the whole id. */
  label?: string;
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

  /**
   * "87.8 % · lightning" for a usable run; "unusable (unreadable): <reason>" for the others, with
   * no accuracy: a number read from a run the cook skips would look like a ranking.
   */
  get description(): string {
    if (this.run.status !== 'ok') return `unusable (${this.run.status}): ${this.run.reason ?? 'no reason given'}`;
    const parts = [formatPercent(this.run.heldout), this.run.layout];
    if (this.run.runName) parts.push(this.run.runName);
    if (this.run.checkpoint) parts.push(this.run.checkpoint);
    if (this.run.weights) parts.push(weightsText(this.run.weights));
    if (this.ctx.trusted && !this.ctx.included) parts.push('unchecked');
    return parts.join(' · ');
  }

  getTreeItem(): vscode.TreeItem {
    const r = this.run;
    const item = new vscode.TreeItem(this.ctx.label ?? r.id, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `run:${r.id}`;
    item.description = this.description;
    item.tooltip = this.tooltip();
    item.iconPath = r.status === 'ok' ? new vscode.ThemeIcon('beaker') : new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    // A click selects the run and shows its details (hyperparameters and files).
    item.command = { command: 'modelSoups.showRun', title: 'Show Run Details', arguments: [this] };
    if (this.checkable) item.checkboxState = this.ctx.included ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    // Unusable runs get an unticked box too, so that their names line up with the other rows;
    // ticking it is refused with the reason (IngredientsTree.onCheckboxes).
    else if (this.ctx.trusted) item.checkboxState = { state: vscode.TreeItemCheckboxState.Unchecked, tooltip: `Cannot be an ingredient: ${r.reason ?? r.status}` };
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
    md.appendText(r.status === 'ok' ? `Held-out accuracy: ${formatPercent(r.heldout)}\n` : `Unusable (${r.status}): the cook skips this run.\n`);
    md.appendMarkdown('\n\n');
    md.appendText(r.metricsSource ? `Metric source: ${r.metricsSource.file} → ${r.metricsSource.field}` : 'Metric source: none found');
    md.appendMarkdown('\n\n');
    md.appendText(`Layout: ${r.layout}${r.checkpoint ? ` (${r.checkpoint})` : ''}`);
    md.appendMarkdown('\n\n');
    if (r.runName) {
      md.appendText(`Run name (tracker): ${r.runName}`);
      md.appendMarkdown('\n\n');
    }
    if (r.weights) {
      md.appendText(`Weights: ${path.relative(r.dir, r.weights.file) || path.basename(r.weights.file)} (${weightsText(r.weights)}), evaluated through the configured graph`);
      md.appendMarkdown('\n\n');
    }
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

/** "safetensors bf16", "torch f32": the format of a checkpoint run and, once read, its dtype. */
function weightsText(w: RunWeights): string {
  return w.dtype ? `${w.format} ${w.dtype}` : w.format;
}
