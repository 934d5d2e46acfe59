import * as vscode from 'vscode';
import type { CookProgress } from '../engine/cookPlan';

/** The status-bar item that shows a running cook; clicking it cancels. Hidden when idle. */
export class JobStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('modelSoups.job', vscode.StatusBarAlignment.Left, 10);

  constructor() {
    this.item.name = 'Model Soups: cooking';
    this.item.command = 'modelSoups.cancel';
  }

  start(label: string): void {
    this.item.text = `$(sync~spin) ${label}…`;
    this.item.tooltip = `Model Soups: ${label}. Click to cancel.`;
    this.item.show();
  }

  update(label: string, p: CookProgress): void {
    const count = p.total > 0 ? ` ${p.done}/${p.total}` : '';
    this.item.text = `$(sync~spin) ${label}: ${p.phase}${count}`;
    this.item.tooltip = `${p.message}\nClick to cancel.`;
  }

  stop(): void {
    this.item.hide();
  }

  dispose(): void {
    this.item.dispose();
  }
}
