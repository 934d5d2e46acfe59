import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../engine/errors';
import { REPORT_FILE, SOUP_MODEL_FILE } from '../engine/report';
import { readSoupReport, soupModelPath } from '../engine/soupIndex';
import { describeSoupMethod } from '../engine/soups/catalogue';
import { assertNever } from '../shared/assertNever';
import { parsePanelState, parseWebviewToHost, type HostToWebview, type RenderedMessage, type WebviewToHost } from '../shared/webviewProtocol';
import { resultsPageHtml } from './webviewHtml';

export const RESULTS_VIEW_TYPE = 'modelSoups.results';

/** What a test (or a log line) can know about an open panel. */
export interface PanelInfo {
  soupDir: string;
  /** Times the webview said `ready` (it reloads when hidden and shown again). */
  readyCount: number;
  /** The last `rendered` acknowledgement, once the webview has drawn the report. */
  rendered?: RenderedMessage;
}

/**
 * The results panels, one per soup folder. Also the serializer that brings a panel back after
 * a window reload: the webview saved its soup folder with `setState`.
 */
export class ResultsPanels implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private readonly panels = new Map<string, ResultsPanel>();
  private readonly renderedEmitter = new vscode.EventEmitter<PanelInfo>();
  /** Fires when a panel's webview has drawn its report. */
  readonly onDidRender = this.renderedEmitter.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * Opens (or reveals) the panel of the soup in `soupDir`. `background` (a cook just ended) opens
   * it beside the editor without taking focus; a newer soup then goes in front of the older
   * panels, in their column, so an old result never stands where the new one is expected.
   */
  show(soupDir: string, background = false): PanelInfo {
    const existing = this.panels.get(soupDir);
    if (existing) {
      existing.panel.reveal(undefined, background);
      return existing.info;
    }
    const others = [...this.panels.values()].map((p) => p.panel.viewColumn).filter((c): c is vscode.ViewColumn => c !== undefined);
    const column = background ? others.at(-1) ?? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
    const panel = vscode.window.createWebviewPanel(RESULTS_VIEW_TYPE, panelTitle(soupDir), { viewColumn: column, preserveFocus: background }, webviewOptions(this.extensionUri));
    return this.adopt(panel, soupDir).info;
  }

  /** Where a soup's panel is and whether it is in front (for the test API). */
  placement(soupDir: string): { viewColumn?: vscode.ViewColumn; visible: boolean; active: boolean } | undefined {
    const p = this.panels.get(soupDir)?.panel;
    return p ? { viewColumn: p.viewColumn, visible: p.visible, active: p.active } : undefined;
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const parsed = parsePanelState(state);
    if (!parsed) {
      // Nothing to restore: a panel without a soup is only noise after a reload.
      panel.dispose();
      return;
    }
    this.adopt(panel, parsed.soupDir);
  }

  list(): PanelInfo[] {
    return [...this.panels.values()].map((p) => p.info);
  }

  private adopt(panel: vscode.WebviewPanel, soupDir: string): ResultsPanel {
    const p = new ResultsPanel(panel, soupDir, this.extensionUri, this.log, (info) => this.renderedEmitter.fire(info));
    this.panels.set(soupDir, p);
    panel.onDidDispose(() => {
      this.panels.delete(soupDir);
      p.dispose();
    });
    return p;
  }

  dispose(): void {
    for (const p of this.panels.values()) p.panel.dispose();
    this.renderedEmitter.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

function panelTitle(soupDir: string): string {
  return `Soup: ${path.basename(soupDir)}`;
}

/** One soup's panel: serves the page, answers the webview's messages. */
class ResultsPanel implements vscode.Disposable {
  readonly info: PanelInfo;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly soupDir: string,
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly onRendered: (info: PanelInfo) => void,
  ) {
    this.info = { soupDir, readyCount: 0 };
    panel.title = panelTitle(soupDir);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'soup.svg');
    // Restored panels come back with default options: set them again.
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = pageHtml(panel.webview, extensionUri);
    this.disposables.push(panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)));
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseWebviewToHost(raw);
    if (!parsed.ok) {
      this.log.warn(`results panel: dropped a webview message (${parsed.problem})`);
      return;
    }
    const msg: WebviewToHost = parsed.message;
    switch (msg.type) {
      case 'ready':
        this.info.readyCount++;
        await this.postReport();
        return;
      case 'rendered':
        this.info.rendered = msg;
        this.onRendered(this.info);
        return;
      case 'revealModel': {
        const model = await this.modelPath();
        await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(model));
        return;
      }
      case 'openReport':
        await vscode.window.showTextDocument(vscode.Uri.file(path.join(this.soupDir, REPORT_FILE)), { viewColumn: vscode.ViewColumn.Beside, preview: true });
        return;
      case 'copyMembers': {
        const report = await readSoupReport(this.soupDir);
        await vscode.env.clipboard.writeText(report.soup.members.join('\n') + '\n');
        void vscode.window.showInformationMessage(`Model Soups: copied ${report.soup.members.length} member ids.`);
        return;
      }
      case 'recook':
        // The command runs it like any cook: in the worker, with progress and cancel.
        await vscode.commands.executeCommand('modelSoups.recook', this.soupDir);
        return;
      default:
        assertNever(msg, 'webview message');
    }
  }

  private async modelPath(): Promise<string> {
    try {
      return soupModelPath(this.soupDir, await readSoupReport(this.soupDir));
    } catch {
      return path.join(this.soupDir, SOUP_MODEL_FILE);
    }
  }

  private async postReport(): Promise<void> {
    let msg: HostToWebview;
    try {
      const report = await readSoupReport(this.soupDir);
      msg = { type: 'init', soupDir: this.soupDir, method: describeSoupMethod(report.method, report.steps.length > 0), report };
    } catch (err) {
      msg = { type: 'loadError', soupDir: this.soupDir, message: errorMessage(err) };
    }
    await this.panel.webview.postMessage(msg);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function pageHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  return resultsPageHtml({
    cspSource: webview.cspSource,
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'results.css')).toString(),
  });
}
