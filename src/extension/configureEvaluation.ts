import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_FILE, parseConfig } from '../engine/config';
import { IMAGE_EXTENSIONS } from '../engine/datasets/imageDecode';
import { errorMessage } from '../engine/errors';
import { isRecord } from '../shared/validation';
import { DATASET_FORMS } from './datasetForms';

const SKIP = '**/{node_modules,.git,.soups,.venv}/**';
const TOTAL_STEPS = 4;
// The engine's image extensions, lower and upper case (the engine matches them in any case).
const IMAGE_GLOB = `**/*.{${IMAGE_EXTENSIONS.flatMap((e) => [e.slice(1), e.slice(1).toUpperCase()]).join(',')}}`;

/** A file one of the steps can offer. */
export interface Candidate {
  /** Workspace-relative POSIX path. */
  rel: string;
  /** True when the file sits inside a run folder (a run's own model, not a shared one). */
  inRun: boolean;
  /** An image folder (`<root>/<class>/<image>`) rather than a file. */
  folder?: boolean;
}

/** What the steps offer: dataset files for the first three, models for the pretrained step. */
export interface Candidates {
  datasets: Candidate[];
  models: Candidate[];
}

/**
 * The files the setup offers, found in one place so that other dataset kinds only need to be
 * added here. `.npz` datasets (one file holds both x and y; pairs of `.npy` files are written
 * into the JSON by hand) and image folders, offered with `folder: true`: the grandparent of
 * every image (`<root>/<class>/<image>`) inside the workspace. Models outside run folders come
 * first: the pretrained model is a shared file, while every run folder holds its own `model.onnx`.
 */
export async function listCandidates(workspace: string, runDirs: readonly string[]): Promise<Candidates> {
  const root = vscode.Uri.file(workspace);
  const find = async (glob: string): Promise<Candidate[]> =>
    (await vscode.workspace.findFiles(new vscode.RelativePattern(root, glob), SKIP, 2000))
      .map((u) => ({ rel: rel(workspace, u), inRun: runDirs.some((d) => isInside(d, u.fsPath)) }))
      .sort((a, b) => Number(a.inRun) - Number(b.inRun) || a.rel.localeCompare(b.rel));
  const [npz, models, images] = await Promise.all([
    find('**/*.npz'),
    find('**/*.onnx'),
    vscode.workspace.findFiles(new vscode.RelativePattern(root, IMAGE_GLOB), SKIP, 20000),
  ]);
  // An image folder is the grandparent of its images: <root>/<class>/<image>.
  const roots = new Set(images.map((u) => path.dirname(path.dirname(u.fsPath))));
  const folders = [...roots]
    .map((dir) => ({ rel: rel(workspace, vscode.Uri.file(dir)), inRun: runDirs.some((d) => isInside(d, dir)), folder: true }))
    .filter((c) => c.rel !== '' && !c.rel.startsWith('..'));
  const datasets = [...npz, ...folders].sort((a, b) => Number(a.inRun) - Number(b.inRun) || a.rel.localeCompare(b.rel));
  return { datasets, models };
}

interface FileItem extends vscode.QuickPickItem {
  /** Workspace-relative POSIX path; undefined for "None" / "No shift sets" and separators. */
  rel?: string;
}

/** One step's answer: the picked items, a step back, or undefined when the user cancelled. */
type StepResult = { kind: 'pick'; items: readonly FileItem[] } | { kind: 'back' } | undefined;

/** What a step shows; `many` steps accept several items (the shift sets). */
interface StepSpec {
  step: number;
  title: string;
  placeholder: string;
  items: FileItem[];
  many?: boolean;
  /** Checked (many) or active (single) items when the step opens. */
  initial: (item: FileItem) => boolean;
}

/** Called with each step's quick pick once it is shown (the test API hands it to tests). */
export type StepObserver = (pick: vscode.QuickPick<vscode.QuickPickItem>, step: number) => void;

/**
 * Walks the user through choosing the held-out, test and shift datasets and the pretrained
 * model in one multi-step input (step count, Back button), then writes `modelsoups.json`
 * (keeping its other keys). The result is validated with the engine's own parser before it is
 * written, so the file is always one the engine accepts. Returns the written file, or undefined
 * when the user cancelled.
 */
export async function configureEvaluation(workspace: string, runDirs: readonly string[], observe?: StepObserver): Promise<vscode.Uri | undefined> {
  const configUri = vscode.Uri.joinPath(vscode.Uri.file(workspace), CONFIG_FILE);
  const existing = await readExisting(configUri);
  const current = isRecord(existing.datasets) ? existing.datasets : {};
  const currentShifts = isRecord(current.shifts) ? current.shifts : {};

  const { datasets, models } = await listCandidates(workspace, runDirs);
  if (datasets.length === 0) {
    void vscode.window.showWarningMessage(`Model Soups: no datasets were found in the workspace: add the held-out, test and shift datasets first (np.savez(file, x=images, y=labels) writes an .npz). ${DATASET_FORMS}`);
    return undefined;
  }
  const none = (description: string): FileItem => ({ label: '$(circle-slash) None', description });
  const noShifts: FileItem = { label: '$(circle-slash) No shift sets', description: 'the report then has no shift columns; run this again to add them' };
  const fileItems = (files: Candidate[]): FileItem[] => files.map((f) => ({ label: f.rel, rel: f.rel, description: f.folder ? 'image folder' : undefined }));

  const answers: (readonly FileItem[])[] = [];
  const chosen = (step: number): string | undefined => answers[step - 1]?.[0]?.rel;
  // A step shown again (after Back) keeps what was chosen there; a first visit starts from the file.
  const keep = (step: number, fromFile: unknown) => (i: FileItem): boolean => {
    const previous = answers[step - 1]?.[0];
    return previous ? i.label === previous.label : i.rel === fromFile;
  };
  const spec = (step: number): StepSpec => {
    switch (step) {
      case 1:
        return {
          step,
          title: 'Held-out (validation) dataset',
          placeholder: 'Used to rank the ingredients and to decide each greedy step',
          items: fileItems(datasets),
          initial: keep(1, entryPath(current.heldout)),
        };
      case 2:
        return {
          step,
          title: 'Test dataset (in-distribution)',
          placeholder: 'Optional: choose None to skip it',
          items: [none('no test column'), ...fileItems(datasets.filter((d) => d.rel !== chosen(1)))],
          initial: keep(2, entryPath(current.test)),
        };
      case 3: {
        const taken = new Set([chosen(1), chosen(2)]);
        const previous = answers[2]?.map((i) => i.rel);
        return {
          step,
          title: 'Distribution-shift datasets',
          placeholder: 'Tick the shift sets (each is a column), or "No shift sets"',
          items: [noShifts, ...fileItems(datasets.filter((d) => !taken.has(d.rel)))],
          many: true,
          initial: (i) => (previous ? (i === noShifts ? previous.includes(undefined) : previous.includes(i.rel)) : i.rel !== undefined && Object.values(currentShifts).some((p) => entryPath(p) === i.rel)),
        };
      }
      default: {
        const outside = models.filter((m) => !m.inRun);
        const inside = models.filter((m) => m.inRun);
        const separator = (label: string): FileItem => ({ label, kind: vscode.QuickPickItemKind.Separator });
        return {
          step,
          title: 'Pretrained / reference model',
          placeholder: 'Optional: the shared initialisation, shown apart and never an ingredient',
          items: [
            none('no reference model'),
            ...(outside.length > 0 ? [separator('outside run folders'), ...fileItems(outside)] : []),
            ...(inside.length > 0 ? [separator('inside run folders (a run’s own model)'), ...fileItems(inside)] : []),
          ],
          initial: keep(4, existing.pretrained),
        };
      }
    }
  };

  for (let step = 1; step <= TOTAL_STEPS; ) {
    const result = await runStep(spec(step), observe);
    if (!result) return undefined;
    if (result.kind === 'back') {
      step = Math.max(1, step - 1);
      continue;
    }
    answers[step - 1] = result.items;
    step++;
  }

  const [heldout, test, shiftPicks, pretrained] = answers.map((a) => a.filter((i) => i.rel !== undefined).map((i) => i.rel as string));
  const shifts: Record<string, unknown> = {};
  for (const file of shiftPicks) {
    const [known, entry] = Object.entries(currentShifts).find(([, p]) => entryPath(p) === file) ?? [];
    let name = known ?? shiftName(file);
    for (let i = 2; name in shifts; i++) name = `${shiftName(file)}_${i}`;
    // An entry written as {path, subset, preprocessing} keeps its settings.
    shifts[name] = entry ?? file;
  }
  const next: Record<string, unknown> = { ...existing, datasets: { heldout: keepEntry(current.heldout, heldout[0]), ...(test[0] ? { test: keepEntry(current.test, test[0]) } : {}), shifts } };
  if (pretrained[0]) next.pretrained = pretrained[0];
  else delete next.pretrained;
  try {
    parseConfig(next, configUri.fsPath);
  } catch (err) {
    void vscode.window.showErrorMessage(`Model Soups: the existing ${CONFIG_FILE} has other problems, so it was not changed: ${errorMessage(err)}`);
    return undefined;
  }
  await vscode.workspace.fs.writeFile(configUri, Buffer.from(JSON.stringify(next, null, 2) + '\n', 'utf8'));
  const open = 'Open modelsoups.json';
  const shiftText = shiftPicks.length === 0 ? 'no shift sets' : `${shiftPicks.length} shift set${shiftPicks.length === 1 ? '' : 's'}`;
  void vscode.window.showInformationMessage(`Model Soups: wrote ${CONFIG_FILE} (held-out, ${test[0] ? 'test, ' : ''}${shiftText}).`, open).then((c) => {
    if (c === open) void vscode.window.showTextDocument(configUri);
  });
  return configUri;
}

/** Shows one step and resolves with its answer; a multi-pick step needs a tick to go on. */
function runStep(s: StepSpec, observe?: StepObserver): Promise<StepResult> {
  const qp = vscode.window.createQuickPick<FileItem>();
  qp.title = `Model Soups: ${s.title}`;
  qp.step = s.step;
  qp.totalSteps = TOTAL_STEPS;
  qp.placeholder = s.placeholder;
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = true;
  qp.canSelectMany = s.many === true;
  qp.buttons = s.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  qp.items = s.items;
  const initial = s.items.filter((i) => i.kind !== vscode.QuickPickItemKind.Separator && s.initial(i));
  if (s.many) qp.selectedItems = initial;
  else if (initial.length > 0) qp.activeItems = initial;
  return new Promise<StepResult>((resolve) => {
    let result: StepResult;
    const subs = [
      qp.onDidTriggerButton((b) => {
        if (b === vscode.QuickInputButtons.Back) {
          result = { kind: 'back' };
          qp.hide();
        }
      }),
      qp.onDidAccept(() => {
        const picked = s.many ? qp.selectedItems : qp.activeItems.slice(0, 1);
        if (picked.length === 0) {
          // An empty tick list must not quietly mean "no shift sets": ask for the explicit item.
          qp.placeholder = 'Nothing is ticked: tick the shift sets to use, or tick "No shift sets"';
          return;
        }
        result = { kind: 'pick', items: picked };
        qp.hide();
      }),
      qp.onDidHide(() => {
        for (const d of subs) d.dispose();
        qp.dispose();
        resolve(result);
      }),
    ];
    qp.show();
    observe?.(qp as vscode.QuickPick<vscode.QuickPickItem>, s.step);
  });
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

/** `data/shift_rotate.npz` -> `rotate`; an image folder `shifts/sketch` -> `sketch`. */
function shiftName(file: string): string {
  return path.posix.basename(file).replace(/\.(npz|npy)$/i, '').replace(/^shift[_-]/i, '').replace(/[^A-Za-z0-9_-]+/g, '_') || 'shift';
}

function rel(workspace: string, uri: vscode.Uri): string {
  return path.relative(workspace, uri.fsPath).split(path.sep).join('/');
}

/** The path of a config dataset entry: a string, or the `path` of an object entry. */
function entryPath(v: unknown): string | undefined {
  return typeof v === 'string' ? v : isRecord(v) && typeof v.path === 'string' ? v.path : undefined;
}

/** The current entry when it names `rel` (so its settings survive), else `rel`. */
function keepEntry(current: unknown, rel: string | undefined): unknown {
  return entryPath(current) === rel ? current : rel;
}

function isInside(dir: string, file: string): boolean {
  const r = path.relative(dir, file);
  return r !== '' && !r.startsWith('..') && !path.isAbsolute(r);
}
