import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../engine/errors';
import { readSoupReport } from '../engine/soupIndex';
import { describeSoupMethod } from '../engine/soups/catalogue';
import { assertNever } from '../shared/assertNever';
import { parseComparePanelState, parseCompareToHost, type CompareRenderedMessage, type CompareToHost, type HostToCompare } from '../shared/compareProtocol';
import { comparePageHtml } from './webviewHtml';

export const COMPARE_VIEW_TYPE = 'modelSoups.compare';

/** What a test (or a log line) can know about the compare panel. */
export interface ComparePanelInfo {
  /** Soup A's and soup B's folders; differences are B − A. */
  soupDirs: [string, string];
  /** Times the webview said `ready`. */
  readyCount: number;
  /** The last `rendered` acknowledgement for the current pair. */
  rendered?: CompareRenderedMessage;
}

/**
 * The one compare panel: comparing another pair reuses it. Also the serializer that brings it
 * back after a window reload (the webview saved its two soup folders with `setState`).
 */
export class ComparePanels implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private current?: ComparePanel;
  private readonly renderedEmitter = new vscode.EventEmitter<ComparePanelInfo>();
  /** Fires when the compare webview has drawn a pair. */
  readonly onDidRender = this.renderedEmitter.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly showResults: (soupDir: string) => unknown,
  ) {}

  /** Opens the compare panel on soups `a` and `b` (or points the open one at them) and brings it to the front. */
  show(a: string, b: string): ComparePanelInfo {
    if (this.current) {
      this.current.compare([a, b]);
      this.current.panel.reveal();
      return this.current.info;
    }
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, panelTitle([a, b]), vscode.ViewColumn.Active, webviewOptions(this.extensionUri));
    return this.adopt(panel, [a, b]).info;
  }

  /** The open compare panel, if any (for the test API). */
  info(): ComparePanelInfo | undefined {
    return this.current?.info;
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const parsed = parseComparePanelState(state);
    if (!parsed || this.current) {
      // Nothing (new) to restore: an empty compare panel is only noise after a reload.
      panel.dispose();
      return;
    }
    this.adopt(panel, parsed.soupDirs);
  }

  private adopt(panel: vscode.WebviewPanel, dirs: [string, string]): ComparePanel {
    const p = new ComparePanel(panel, dirs, this.extensionUri, this.log, (info) => this.renderedEmitter.fire(info), this.showResults);
    this.current = p;
    panel.onDidDispose(() => {
      if (this.current === p) this.current = undefined;
      p.dispose();
    });
    return p;
  }

  dispose(): void {
    this.current?.panel.dispose();
    this.renderedEmitter.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

function panelTitle([a, b]: [string, string]): string {
  return `Compare: ${path.basename(a)} ↔ ${path.basename(b)}`;
}

/** The compare panel: serves the page, sends the two reports, answers the webview. */
class ComparePanel implements vscode.Disposable {
  readonly info: ComparePanelInfo;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    dirs: [string, string],
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly onRendered: (info: ComparePanelInfo) => void,
    private readonly showResults: (soupDir: string) => unknown,
  ) {
    this.info = { soupDirs: dirs, readyCount: 0 };
    panel.title = panelTitle(dirs);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'soup.svg');
    // Restored panels come back with default options: set them again.
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = pageHtml(panel.webview, extensionUri);
    this.disposables.push(panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)));
  }

  /** Shows another pair; before the first `ready` the webview asks for it by itself. */
  compare(dirs: [string, string]): void {
    this.info.soupDirs = dirs;
    this.info.rendered = undefined;
    this.panel.title = panelTitle(dirs);
    if (this.info.readyCount > 0) void this.postReports();
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseCompareToHost(raw);
    if (!parsed.ok) {
      this.log.warn(`compare panel: dropped a webview message (${parsed.problem})`);
      return;
    }
    const msg: CompareToHost = parsed.message;
    switch (msg.type) {
      case 'ready':
        this.info.readyCount++;
        await this.postReports();
        return;
      case 'rendered':
        this.info.rendered = msg;
        // A copy: the next pair must not change what a listener was told about this one.
        this.onRendered({ ...this.info });
        return;
      case 'swap': {
        const [a, b] = this.info.soupDirs;
        this.compare([b, a]);
        return;
      }
      case 'showResults':
        this.showResults(this.info.soupDirs[msg.side === 'a' ? 0 : 1]);
        return;
      default:
        assertNever(msg, 'compare webview message');
    }
  }

  private async postReports(): Promise<void> {
    const dirs = this.info.soupDirs;
    let msg: HostToCompare;
    try {
      const [a, b] = await Promise.all(dirs.map((d) => readSoupReport(d)));
      const label = (method: string, steps: number): string => describeSoupMethod(method, steps > 0).label;
      msg = { type: 'init', a: { soupDir: dirs[0], methodLabel: label(a.method, a.steps.length), report: a }, b: { soupDir: dirs[1], methodLabel: label(b.method, b.steps.length), report: b } };
    } catch (err) {
      msg = { type: 'loadError', soupDirs: dirs, message: errorMessage(err) };
    }
    // A newer pair may have been chosen while the reports were read.
    if (dirs === this.info.soupDirs) await this.panel.webview.postMessage(msg);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function pageHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const uri = (...parts: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  return comparePageHtml({
    cspSource: webview.cspSource,
    scriptUri: uri('dist', 'compare.js'),
    styleUri: uri('media', 'results.css'),
    compareStyleUri: uri('media', 'compare.css'),
  });
}
