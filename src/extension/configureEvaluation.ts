import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, parseConfig } from '../engine/config';
import { errorMessage } from '../engine/errors';
import { isRecord } from '../shared/validation';

const SKIP = '**/{node_modules,.git,.soups,.venv}/**';

interface FileItem extends vscode.QuickPickItem {
  /** Workspace-relative POSIX path; undefined for the "none" item. */
  rel?: string;
}

/**
 * Walks the user through choosing the held-out, test and shift datasets and the pretrained
 * model, then writes `modelsoups.json` (keeping its other keys). The result is validated with
 * the engine's own parser before it is written, so the file is always one the engine accepts.
 * Returns the written file, or undefined when the user cancelled.
 */
export async function configureEvaluation(workspace: string): Promise<vscode.Uri | undefined> {
  const root = vscode.Uri.file(workspace);
  const configUri = vscode.Uri.joinPath(root, CONFIG_FILE);
  const existing = await readExisting(configUri);
  const current = isRecord(existing.datasets) ? existing.datasets : {};
  const currentShifts = isRecord(current.shifts) ? current.shifts : {};

  // Only .npz: one file holds both x and y (pairs of .npy files are written into the JSON by hand).
  const datasets = (await vscode.workspace.findFiles(new vscode.RelativePattern(root, '**/*.npz'), SKIP, 2000)).map((u) => rel(workspace, u)).sort();
  if (datasets.length === 0) {
    void vscode.window.showWarningMessage('Model Soups: no .npz dataset files were found in the workspace. Add the held-out, test and shift datasets first (np.savez(file, x=images, y=labels)).');
    return undefined;
  }
  const items = (pick?: unknown): FileItem[] => datasets.map((d) => ({ label: d, rel: d, picked: d === pick }));

  const heldout = await pickOne('Held-out (validation) dataset — used to rank ingredients and to decide greedy steps', items(current.heldout), current.heldout, false);
  if (!heldout) return undefined;
  const test = await pickOne('Test dataset (in-distribution) — optional', items(current.test), current.test, true);
  if (!test) return undefined;
  const shiftPicks = await vscode.window.showQuickPick(
    datasets.filter((d) => d !== heldout.rel && d !== test.rel).map((d) => ({ label: d, rel: d, picked: Object.values(currentShifts).includes(d) }) as FileItem),
    { title: 'Model Soups: distribution-shift datasets (any number)', canPickMany: true, placeHolder: 'Each becomes a column of the report; their mean is the shift average' },
  );
  if (!shiftPicks) return undefined;
  const models = (await vscode.workspace.findFiles(new vscode.RelativePattern(root, '**/*.onnx'), SKIP, 2000)).map((u) => rel(workspace, u)).sort();
  const pretrained = await pickOne(
    'Pretrained / reference model (shown apart, never an ingredient) — optional',
    models.map((m) => ({ label: m, rel: m, picked: m === existing.pretrained })),
    existing.pretrained,
    true,
  );
  if (!pretrained) return undefined;

  const shifts: Record<string, string> = {};
  for (const s of shiftPicks) {
    const known = Object.entries(currentShifts).find(([, p]) => p === s.rel)?.[0];
    let name = known ?? shiftName(s.rel ?? s.label);
    for (let i = 2; name in shifts; i++) name = `${shiftName(s.rel ?? s.label)}_${i}`;
    shifts[name] = s.rel ?? s.label;
  }
  const next: Record<string, unknown> = { ...existing, datasets: { heldout: heldout.rel, ...(test.rel ? { test: test.rel } : {}), shifts } };
  if (pretrained.rel) next.pretrained = pretrained.rel;
  else delete next.pretrained;
  try {
    parseConfig(next, configUri.fsPath);
  } catch (err) {
    void vscode.window.showErrorMessage(`Model Soups: the existing ${CONFIG_FILE} has other problems, so it was not changed: ${errorMessage(err)}`);
    return undefined;
  }
  await vscode.workspace.fs.writeFile(configUri, Buffer.from(JSON.stringify(next, null, 2) + '\n', 'utf8'));
  const open = 'Open modelsoups.json';
  void vscode.window.showInformationMessage(`Model Soups: wrote ${CONFIG_FILE} (held-out, ${test.rel ? 'test, ' : ''}${Object.keys(shifts).length} shift dataset(s)).`, open).then((c) => {
    if (c === open) void vscode.window.showTextDocument(configUri);
  });
  return configUri;
}

async function pickOne(title: string, items: FileItem[], current: unknown, optional: boolean): Promise<FileItem | undefined> {
  const none: FileItem = { label: '$(circle-slash) None', description: 'skip this one' };
  const all = optional ? [none, ...items] : items;
  // Put the current choice first so Enter keeps it.
  const sorted = [...all].sort((a, b) => Number(b.rel === current && current !== undefined) - Number(a.rel === current && current !== undefined));
  return vscode.window.showQuickPick(sorted, { title: `Model Soups: ${title}`, matchOnDescription: true, ignoreFocusOut: true });
}

async function readExisting(uri: vscode.Uri): Promise<Record<string, unknown>> {
  try {
    const raw: unknown = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8'));
    return isRecord(raw) ? raw : {};
  } catch {
    // Missing or not JSON: start from scratch; the user chooses everything below anyway.
    return {};
  }
}

/** `data/shift_rotate.npz` -> `rotate`. */
function shiftName(file: string): string {
  return path.posix.basename(file).replace(/\.(npz|npy)$/i, '').replace(/^shift[_-]/i, '').replace(/[^A-Za-z0-9_-]+/g, '_') || 'shift';
}

function rel(workspace: string, uri: vscode.Uri): string {
  return path.relative(workspace, uri.fsPath).split(path.sep).join('/');
}
