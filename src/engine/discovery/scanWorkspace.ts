import * as path from 'node:path';
import type { SoupConfig } from '../config';
import { resolveInWorkspace } from '../config';
import { SoupError } from '../errors';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { firstArchitectureDifference, readOnnxModel } from '../formats/onnxModel';
import { checkpointTable, firstTensorDifference, firstTensorNotIn, onnxTensorTable, referenceCheckpointFile, type CheckpointTable } from '../checkpoints/checkpointTable';
import { openWeights } from '../checkpoints/weightsFile';
import type { TensorEntry } from '../formats/tensorRead';
import type { SkippedPath } from './linkPolicy';
import type { RunRecord } from './runRecord';
import { scanRuns } from './scanRuns';
import type { ArchitectureGroup, WorkspaceScan } from './workspaceScan';

/** A scan plus the parsed model structures, for a cook (the tree view needs only the scan). */
export interface InspectedWorkspace {
  scan: WorkspaceScan;
  /** Run id -> model structure, for every run whose model could be read. */
  models: Map<string, OnnxModelInfo>;
  pretrainedModel?: OnnxModelInfo;
  /** Run id -> its tensor table under the architecture's names, for every usable checkpoint run. */
  checkpoints: Map<string, CheckpointTable>;
  /** The configured graph and the checkpoint it was exported from (set when the graph is readable). */
  graph?: GraphReference;
}

/** The one ONNX export checkpoint runs are evaluated through, and the checkpoint it maps onto. */
export interface GraphReference {
  model: OnnxModelInfo;
  /** The reference checkpoint (the graph's folder's, else `pretrained`) under the architecture's names. */
  reference: { file: string; tensors: TensorEntry[] };
}

/**
 * Finds the runs of a workspace, reads the structure of each model (not its weights: cheap
 * enough for the extension host), groups runs by architecture and marks runs outside the
 * primary group `incompatible` with the first difference named. The configured pretrained
 * model is reported apart and is never an ingredient.
 */
export async function scanWorkspace(workspace: string, config: SoupConfig, opts: { signal?: AbortSignal } = {}): Promise<WorkspaceScan> {
  return (await inspectWorkspace(workspace, config, opts)).scan;
}

/** {@link scanWorkspace}, keeping the parsed models. */
export async function inspectWorkspace(workspace: string, config: SoupConfig, opts: { signal?: AbortSignal } = {}): Promise<InspectedWorkspace> {
  const root = path.resolve(workspace);
  const skipped: SkippedPath[] = [];
  const found = await scanRuns(root, {
    allowedRoots: config.allowedRoots,
    onSkipped: (s) => skipped.push(s),
    include: config.include,
    exclude: config.exclude,
    outputDir: config.output,
    metric: config.metric,
    signal: opts.signal,
  });
  return inspectRuns(root, config, found, skipped, opts);
}

/**
 * The second half of {@link inspectWorkspace}: reads the models (ONNX structures, checkpoint
 * tensor tables) of runs already found and groups them.
 */
export async function inspectRuns(root: string, config: SoupConfig, found: RunRecord[], skipped: SkippedPath[] = [], opts: { signal?: AbortSignal } = {}): Promise<InspectedWorkspace> {
  const pretrainedPath = config.pretrained ? resolveInWorkspace(root, config.pretrained) : undefined;
  const graphPath = config.graph ? resolveInWorkspace(root, config.graph) : undefined;
  const runs = found.filter((r) => r.modelPath !== pretrainedPath && r.modelPath !== graphPath);
  const models = new Map<string, OnnxModelInfo>();
  const checkpoints = new Map<string, CheckpointTable>();
  const needsGraph = runs.some((r) => r.weights && r.weights.format !== 'onnx') || (pretrainedPath !== undefined && !pretrainedPath.endsWith('.onnx'));
  const graph = needsGraph ? await loadGraph(graphPath, pretrainedPath) : undefined;
  for (const run of runs) {
    if (opts.signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
    if (run.status === 'unreadable') continue;
    if (run.weights && run.weights.format !== 'onnx') {
      await inspectCheckpointRun(run, graph as LoadedGraph, models, checkpoints);
      continue;
    }
    try {
      const model = await readOnnxModel(run.modelPath);
      models.set(run.id, model);
      run.architecture = model.architectureKey;
      if (model.weights.length === 0) markUnreadable(run, 'the model has no float weights to average');
    } catch (err) {
      markUnreadable(run, err instanceof SoupError ? err.problem : String(err));
    }
  }
  if (graph && !('error' in graph) && checkpoints.size > 0) joinGraphSpace(runs, graph, models, checkpoints);
  const { groups, primary } = regroup(runs, models);
  runs.sort(byHeldout);
  let pretrained: WorkspaceScan['pretrained'];
  let pretrainedModel: OnnxModelInfo | undefined;
  if (pretrainedPath && config.pretrained) {
    pretrained = { path: pretrainedPath, id: config.pretrained };
    try {
      if (!pretrainedPath.endsWith('.onnx')) {
        // A pretrained checkpoint: of the graph's architecture when its tensors agree.
        if (!graph || 'error' in graph) throw new Error(graph ? graph.error : 'a checkpoint needs "graph"');
        const ck = checkpointTable(await openWeights(pretrainedPath), graph.referenceTable.tensors.keys());
        const diff = firstTensorDifference(ck.tensors, graph.referenceTable.tensors, graph.reference.reference.file);
        if (diff) throw new Error(diff);
        pretrained.architecture = graph.reference.model.architectureKey;
      } else {
        pretrainedModel = await readOnnxModel(pretrainedPath);
        pretrained.architecture = pretrainedModel.architectureKey;
      }
    } catch (err) {
      pretrained.reason = err instanceof SoupError ? err.message : String(err);
    }
  }
  return { scan: { workspace: root, runs, groups, primaryGroup: primary?.key, pretrained, skipped }, models, pretrainedModel, checkpoints, graph: graph && !('error' in graph) ? graph.reference : undefined };
}

/** The graph as loaded for a scan: readable with its reference table, or why not. */
type LoadedGraph = { reference: GraphReference; referenceTable: CheckpointTable } | { error: string };

/** Reads the configured graph and the checkpoint it was exported from (names and shapes only). */
async function loadGraph(graphPath: string | undefined, pretrainedPath: string | undefined): Promise<LoadedGraph> {
  if (!graphPath) return { error: 'checkpoint runs are evaluated through one ONNX export of the architecture: set "graph" in modelsoups.json (see README, "Checkpoint runs")' };
  try {
    const model = await readOnnxModel(graphPath);
    const referenceFile = await referenceCheckpointFile(graphPath, pretrainedPath);
    if (!referenceFile) return { error: `no checkpoint to map the graph ${graphPath} onto: put the checkpoint it was exported from beside it, or set "pretrained" to it` };
    const referenceTable = checkpointTable(await openWeights(referenceFile), model.weights.map((w) => w.name));
    const tensors = [...referenceTable.tensors].map(([name, t]) => ({ ...t, name }));
    return { reference: { model, reference: { file: referenceFile, tensors } }, referenceTable };
  } catch (err) {
    return { error: `graph: ${err instanceof SoupError ? err.message : String(err)}` };
  }
}

/**
 * A mixed workspace: ONNX runs exported otherwise than the graph (their own initializer names)
 * join graph space when every initializer is a tensor of the reference checkpoint (after the
 * wrapper prefix), with the same shape; others keep their own group.
 */
function joinGraphSpace(runs: RunRecord[], graph: Extract<LoadedGraph, { reference: GraphReference }>, models: Map<string, OnnxModelInfo>, checkpoints: Map<string, CheckpointTable>): void {
  const graphKey = graph.reference.model.architectureKey;
  for (const run of runs) {
    const model = models.get(run.id);
    if (!model || checkpoints.has(run.id) || run.status === 'unreadable' || model.architectureKey === graphKey) continue;
    const ck = checkpointTable(onnxTensorTable(model), graph.referenceTable.tensors.keys());
    if (firstTensorNotIn(ck.tensors, graph.referenceTable.tensors, graph.reference.reference.file) !== undefined) continue;
    run.architecture = graphKey;
    models.set(run.id, graph.reference.model);
    checkpoints.set(run.id, ck);
  }
}

/**
 * A checkpoint run: reads its tensor table (nothing of the values), strips the wrapper prefix,
 * records the dtype, and puts it in the graph's group when its names and shapes are the
 * reference's (else `incompatible`, naming the first tensor that differs).
 */
async function inspectCheckpointRun(run: RunRecord, graph: LoadedGraph, models: Map<string, OnnxModelInfo>, checkpoints: Map<string, CheckpointTable>): Promise<void> {
  const weights = run.weights as NonNullable<RunRecord['weights']>;
  if ('error' in graph) return markUnreadable(run, graph.error);
  let ck: CheckpointTable;
  try {
    ck = checkpointTable(await openWeights(weights.file), graph.referenceTable.tensors.keys());
  } catch (err) {
    return markUnreadable(run, err instanceof SoupError ? err.problem : String(err));
  }
  weights.dtype = ck.dtype;
  const diff = firstTensorDifference(ck.tensors, graph.referenceTable.tensors, path.basename(graph.reference.reference.file));
  if (diff) {
    run.architecture = ck.key;
    run.status = 'incompatible';
    run.reason = diff;
    return;
  }
  run.architecture = graph.reference.model.architectureKey;
  models.set(run.id, graph.reference.model);
  checkpoints.set(run.id, ck);
}

// Status and reason of each run before grouping, so a regroup can undo an `incompatible`.
const beforeGrouping = new WeakMap<RunRecord, Pick<RunRecord, 'status' | 'reason'>>();

/**
 * Groups the readable runs by architecture, picks the primary group and marks runs outside it
 * `incompatible` with the first difference named (runs of other groups get their own status
 * back when the primary group changes).
 */
function regroup(runs: RunRecord[], models: Map<string, OnnxModelInfo>): { groups: ArchitectureGroup[]; primary?: ArchitectureGroup } {
  for (const run of runs) {
    const base = beforeGrouping.get(run);
    if (base && run.status === 'incompatible') Object.assign(run, base);
    else beforeGrouping.set(run, { status: run.status, reason: run.reason });
  }
  const groups = groupRuns(runs, models);
  const primary = pickPrimary(groups, runs);
  if (primary) {
    const ref = runs.find((r) => r.id === primary.runIds[0]);
    const refModel = ref && models.get(ref.id);
    for (const run of runs) {
      const m = models.get(run.id);
      if (!m || !refModel || run.architecture === primary.key || run.status === 'unreadable') continue;
      run.status = 'incompatible';
      run.reason = `architecture differs from ${ref.id}: ${firstArchitectureDifference(m.architecture, refModel.architecture)}`;
    }
  }
  return { groups, primary };
}

/**
 * Marks every run of `runId`'s architecture `unreadable` with `reason` (e.g. onnxruntime cannot
 * load the graph the scan could parse) and regroups, so the cook can go on with the others.
 */
export function markArchitectureUnreadable(inspected: InspectedWorkspace, runId: string, reason: string): void {
  const { scan, models } = inspected;
  const key = scan.runs.find((r) => r.id === runId)?.architecture;
  for (const run of scan.runs) {
    if (run.id === runId || (key !== undefined && run.architecture === key && run.status !== 'unreadable')) {
      markUnreadable(run, reason);
      beforeGrouping.set(run, { status: run.status, reason });
    }
  }
  const { groups, primary } = regroup(scan.runs, models);
  scan.groups = groups;
  scan.primaryGroup = primary?.key;
  scan.runs.sort(byHeldout);
}

/** Held-out accuracy descending, unscored last, ties by id ascending (the paper's sort). */
export function byHeldout(a: RunRecord, b: RunRecord): number {
  const ha = a.status === 'ok' || a.status === 'incompatible' ? (a.heldout ?? -1) : -1;
  const hb = b.status === 'ok' || b.status === 'incompatible' ? (b.heldout ?? -1) : -1;
  if (ha !== hb) return hb - ha;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function markUnreadable(run: RunRecord, reason: string): void {
  run.status = 'unreadable';
  run.reason = reason;
}

function groupRuns(runs: RunRecord[], models: Map<string, OnnxModelInfo>): ArchitectureGroup[] {
  const groups = new Map<string, ArchitectureGroup>();
  for (const run of [...runs].sort(byHeldout)) {
    const m = models.get(run.id);
    if (!m || run.status === 'unreadable') continue;
    let g = groups.get(m.architectureKey);
    if (!g) {
      g = {
        key: m.architectureKey,
        label: `${m.weights.length} weights, ${m.parameterCount.toLocaleString('en-US')} parameters`,
        parameterCount: m.parameterCount,
        runIds: [],
      };
      groups.set(g.key, g);
    }
    g.runIds.push(run.id);
  }
  return [...groups.values()];
}

/** The group with the most scored runs; ties go to the group holding the best run. */
function pickPrimary(groups: ArchitectureGroup[], runs: RunRecord[]): ArchitectureGroup | undefined {
  const scored = (g: ArchitectureGroup) => g.runIds.filter((id) => runs.find((r) => r.id === id)?.status === 'ok').length;
  let best: ArchitectureGroup | undefined;
  for (const g of groups) if (!best || scored(g) > scored(best)) best = g;
  return best;
}
