import type { PanelState, WebviewToHost } from '../src/shared/webviewProtocol';

/** The part of the webview API this page uses, typed with our protocol. */
export interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): unknown;
  setState(state: PanelState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

// acquireVsCodeApi may be called only once per page.
export const vscodeApi: VsCodeApi = acquireVsCodeApi();
