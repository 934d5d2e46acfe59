import * as assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import * as vscode from 'vscode';

const extensionId = 'model-soups.model-soups';
// out/test/vscode -> repository root
const repoExample = resolve(__dirname, '..', '..', '..', 'examples', 'fashion-soup');

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

describe('Extension activation', () => {
  it('is installed under the id model-soups.model-soups', () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `extension ${extensionId} is not loaded`);
    assert.equal(extension.packageJSON.name, 'model-soups');
    assert.equal(extension.packageJSON.publisher, 'model-soups');
  });

  it('activates by itself in a workspace that contains modelsoups.json', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    const active = await waitFor(() => extension.isActive, 30_000);
    assert.ok(active, 'the extension was not activated by its activation events within 30 s');
  });

  it('activates without error', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    // Resolves with the same activation as above, or rejects with the error activate() threw.
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  it('opens a copy of the fashion-soup example as the only workspace folder', async () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, `workspace folders: ${folders.map((f) => f.uri.toString()).join(', ')}`);
    const folder = folders[0];
    assert.equal(folder.uri.scheme, 'file');
    const stat = await vscode.workspace.fs.stat(vscode.Uri.joinPath(folder.uri, 'modelsoups.json'));
    assert.equal(stat.type & vscode.FileType.File, vscode.FileType.File);
    // Tests write soups and reports into the workspace: it must never be the repository's example.
    assert.notEqual(realpathSync(folder.uri.fsPath), realpathSync(repoExample));
    assert.equal(basename(folder.uri.fsPath), 'fashion-soup');
  });
});
