import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ModelSoupsApi, SetupStep } from '../../src/extension/testApi';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Drives Configure Evaluation Data through its real quick picks, as a user would with the keyboard:
 * each step is awaited as it comes on screen, then answered by moving the selection and pressing
 * Enter (VS Code's accept command) or the Back button.
 */
export class SetupDriver {
  private readonly queue: SetupStep[] = [];
  private waiting?: (s: SetupStep) => void;
  private readonly sub: vscode.Disposable;

  constructor(api: ModelSoupsApi) {
    this.sub = api.onSetupStep((s) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(s);
      } else this.queue.push(s);
    });
  }

  /** The next step shown, or undefined if none comes within `ms`. */
  next(ms = 10_000): Promise<SetupStep | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, ms);
      this.waiting = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
    });
  }

  async step(n: number): Promise<SetupStep> {
    const s = await this.next();
    assert.ok(s, `step ${n} was not shown`);
    assert.equal(s.step, n);
    return s;
  }

  /** Moves the cursor (single pick) or the ticks (multi pick) to `labels`, then presses Enter. */
  async accept(s: SetupStep, labels: string[]): Promise<void> {
    const items = s.pick.items.filter((i) => labels.includes(i.label));
    assert.equal(items.length, labels.length, `step ${s.step} offers ${JSON.stringify(s.pick.items.map((i) => i.label))}`);
    if (s.pick.canSelectMany) s.pick.selectedItems = items;
    else s.pick.activeItems = items;
    // Quick-pick updates reach the workbench asynchronously.
    await sleep(300);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  }

  async back(): Promise<void> {
    await sleep(300);
    await vscode.commands.executeCommand('workbench.action.quickInputBack');
  }

  dispose(): void {
    this.sub.dispose();
  }
}
