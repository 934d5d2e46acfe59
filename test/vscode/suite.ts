// Shared by the extension-host suites (test/vscode, test/vscode-untrusted): the mocha runner
// that VS Code's extensionTestsPath module calls, and helpers the tests share.
import * as assert from 'node:assert/strict';
import Mocha from 'mocha';
import { chmodSync, cpSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelSoupsApi } from '../../src/extension/testApi';

/** Runs every `*.test.js` in `dir` with mocha; rejects when any fails or none exists. */
export function runSuite(dir: string): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.test.js'))
    .sort();
  for (const name of files) mocha.addFile(path.join(dir, name));

  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        // The hosts print the extension host's console line by line: keep the counts alone on the
        // last line so runCodeServer.mjs (and a human) can find them.
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        console.log(`${passes} passed, ${failures} failed${pending > 0 ? `, ${pending} pending` : ''}`);
        if (files.length === 0) reject(new Error(`no *.test.js files in ${dir}`));
        else if (failures > 0) reject(new Error(`${failures} test(s) failed`));
        else resolve();
      });
    } catch (err) {
      console.error(err);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/** The extension's test API (activating it if needed). */
export async function getApi(): Promise<ModelSoupsApi> {
  const ext = vscode.extensions.getExtension<ModelSoupsApi>('model-soups.model-soups');
  assert.ok(ext, 'extension not found');
  return ext.activate();
}

/**
 * The extension's log file. code-server (test/host/runCodeServer.mjs) keeps its user data next to
 * the workspace copy; other hosts put it elsewhere, and then log checks are skipped.
 */
export function extensionLog(ws: string): string | undefined {
  const logs = path.join(ws, '..', 'user-data', 'logs');
  if (!existsSync(logs)) return undefined;
  const found: string[] = [];
  for (const session of readdirSync(logs)) {
    const sessionDir = path.join(logs, session);
    if (!statSync(sessionDir).isDirectory()) continue;
    for (const host of readdirSync(sessionDir).filter((n) => n.startsWith('exthost'))) {
      const file = path.join(sessionDir, host, 'model-soups.model-soups', 'Model Soups.log');
      if (existsSync(file)) found.push(file);
    }
  }
  return found.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/**
 * Copies the example run `from` to `name` with its model.onnx overwritten by text: a run the scan
 * reports as unreadable (its metrics.json still holds an accuracy). Returns the new folder.
 */
export function addBrokenRun(ws: string, from: string, name: string): string {
  const dir = path.join(ws, name);
  cpSync(path.join(ws, from), dir, { recursive: true });
  // The example is read-only; the copy must be writable and removable.
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'model.onnx'), 0o644);
  writeFileSync(path.join(dir, 'model.onnx'), 'not an onnx model');
  return dir;
}
