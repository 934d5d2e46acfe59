import * as os from 'node:os';
import type * as ortTypes from 'onnxruntime-node';
import type { ExecutionDevice } from '../config';
import { SoupError } from '../errors';
import type { OnnxModelInfo, OnnxValue } from '../formats/onnxModel';
import { dataTypeName, OnnxDataType } from '../formats/onnxSchema';
import type { WeightSet } from '../soups/weights';
import type { EvalDataset } from '../datasets/evalDataset';
import type { ExampleStats } from './exampleStats';
import { allocExampleStats, fillExampleStats } from './exampleStats';
import { buildSessionModel } from './sessionModel';

/** Options for an {@link Evaluator}. */
export interface EvaluatorOptions {
  /** Graph input for the examples (default: the only non-weight input). */
  input?: string;
  /** Graph output with the logits (default: the first output). */
  output?: string;
  batchSize: number;
  /** Intra-op threads (default: every core). */
  threads?: number;
  device?: ExecutionDevice;
  /** Told when the requested device is unavailable and the CPU is used instead. */
  onWarning?: (message: string) => void;
}

/** The result of one pass over a dataset. */
export interface PassResult {
  correct: number;
  /** Logits [n × classes] when requested. */
  logits?: Float32Array;
  /** Per-example confidence, prediction, log-probability of the label and Brier score, when requested. */
  stats?: ExampleStats;
}

// Loaded lazily: only the background worker and the CLI evaluate, never the extension host.
let ort: typeof ortTypes | undefined;
function onnxruntime(): typeof ortTypes {
  // onnxruntime 1.30 starts Microsoft telemetry (1DS) with every environment, which leaves an
  // empty /tmp/mat-debug-<pid>.log per process; this variable (read when the environment is
  // created) turns it off. A user's own setting wins.
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  ort ??= require('onnxruntime-node') as typeof ortTypes;
  return ort;
}

/**
 * One onnxruntime session per architecture, with weights as inputs: any model of the
 * architecture (an ingredient, a candidate soup) is evaluated by feeding its weights, with no
 * per-model serialisation or session creation.
 */
export class Evaluator {
  private constructor(
    private readonly session: ortTypes.InferenceSession,
    readonly model: OnnxModelInfo,
    readonly inputName: string,
    readonly outputName: string,
    readonly inputDims: (number | string | null)[],
    readonly classes: number | undefined,
    private readonly batchSize: number,
    /** The device actually used. */
    readonly device: ExecutionDevice,
  ) {}

  /** Builds the session for `model`'s architecture. */
  static async create(model: OnnxModelInfo, opts: EvaluatorOptions): Promise<Evaluator> {
    const input = pickInput(model, opts.input);
    const output = pickOutput(model, opts.output);
    const ortm = onnxruntime();
    const bytes = buildSessionModel(model);
    const options = (providers: string[]): ortTypes.InferenceSession.SessionOptions => ({
      intraOpNumThreads: opts.threads ?? os.availableParallelism(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: providers,
      // onnxruntime's threads spin for a while after each run by default, taking the cores from
      // the averaging that follows a greedy candidate's pass (a 2-model mean then took 1.5x as
      // long); they still spin within a run, between its operators.
      extra: { session: { force_spinning_stop: '1' } },
    });
    let session: ortTypes.InferenceSession | undefined;
    let device: ExecutionDevice = opts.device ?? 'cpu';
    if (device === 'cuda') {
      try {
        // Fatal-only logging: the missing-library error is reported once, as a warning, below.
        session = await ortm.InferenceSession.create(bytes, { ...options(['cuda', 'cpu']), logSeverityLevel: 4 });
      } catch (err) {
        device = 'cpu';
        opts.onWarning?.(`CUDA is not available (${(err as Error).message.split('\n')[0]}); evaluating on the CPU. Install onnxruntime-node's CUDA binaries (ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node) to use the GPU.`);
      }
    }
    try {
      session ??= await ortm.InferenceSession.create(bytes, options(['cpu']));
    } catch (err) {
      throw new SoupError('EVALUATION_FAILED', `onnxruntime cannot load the model (${(err as Error).message})`, model.path);
    }
    const last = output.dims[output.dims.length - 1];
    return new Evaluator(session, model, input.name, output.name, input.dims, typeof last === 'number' ? last : undefined, opts.batchSize, device);
  }

  /**
   * Checks a dataset against the model before any inference: the example shape must fit the
   * input, labels must be valid class indices.
   */
  checkDataset(ds: EvalDataset): void {
    const want = this.inputDims;
    const got = ds.xShape;
    const fits = want.length === got.length && want.every((d, i) => i === 0 || typeof d !== 'number' || d === got[i]);
    if (!fits) {
      throw new SoupError('DATASET_MISMATCH', `x has shape (${got.join(', ')}) but model input "${this.inputName}" expects [${want.map((d) => d ?? '?').join(', ')}]`, ds.file);
    }
    if (typeof want[0] === 'number' && want[0] !== got[0] && want[0] > 0) {
      throw new SoupError('DATASET_MISMATCH', `model input "${this.inputName}" has a fixed batch size of ${want[0]}; export it with a dynamic batch axis`, this.model.path);
    }
    for (let i = 0; i < ds.n; i++) {
      const label = ds.y[i];
      if (label < 0 || (this.classes !== undefined && label >= this.classes)) {
        throw new SoupError('DATASET_MISMATCH', `label ${label} at index ${i} is not a class of the model (output "${this.outputName}" has ${this.classes ?? '?'} classes)`, ds.file);
      }
    }
  }

  /**
   * Runs `weights` over the whole dataset in batches; counts correct top-1 predictions (among
   * `ds.subset` when set). With `keepLogits` it also returns the logits (every class), with
   * `stats` the per-example statistics that calibration needs (computed batch by batch, so no
   * logits are kept for them; among `ds.subset` too, so calibration and accuracy agree).
   */
  async run(weights: WeightSet, ds: EvalDataset, opts: { keepLogits?: boolean; stats?: boolean; signal?: AbortSignal } = {}): Promise<PassResult> {
    const ortm = onnxruntime();
    const feeds: Record<string, ortTypes.Tensor> = {};
    this.model.weights.forEach((w, i) => {
      feeds[w.name] = new ortm.Tensor(w.dataType === OnnxDataType.DOUBLE ? 'float64' : 'float32', weights[i], w.dims);
    });
    let correct = 0;
    let logits: Float32Array | undefined;
    const stats = opts.stats ? allocExampleStats(ds.n) : undefined;
    for (let start = 0; start < ds.n; start += this.batchSize) {
      if (opts.signal?.aborted) throw new SoupError('CANCELLED', 'cancelled');
      const b = Math.min(this.batchSize, ds.n - start);
      feeds[this.inputName] = new ortm.Tensor('float32', await ds.readBatch(start, b), [b, ...ds.xShape.slice(1)]);
      let result: ortTypes.InferenceSession.OnnxValueMapType;
      try {
        result = await this.session.run(feeds, [this.outputName]);
      } catch (err) {
        throw new SoupError('EVALUATION_FAILED', `inference failed on ${ds.path} (${(err as Error).message})`, this.model.path);
      }
      const out = result[this.outputName] as ortTypes.Tensor;
      const data = out.data as Float32Array;
      const classes = out.dims[out.dims.length - 1];
      if (out.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== b) {
        throw new SoupError('EVALUATION_FAILED', `output "${this.outputName}" is ${out.type}[${out.dims.join(',')}]; expected float32 logits [batch, classes]`, this.model.path);
      }
      if (start === 0 && opts.keepLogits) logits = new Float32Array(ds.n * classes);
      for (let i = 0; i < b; i++) {
        const label = ds.y[start + i];
        if (label >= classes) throw new SoupError('DATASET_MISMATCH', `label ${label} at index ${start + i} is not one of the model's ${classes} classes`, ds.file);
        if (predictedClass(data, i * classes, classes, ds.subset) === label) correct++;
      }
      logits?.set(data.subarray(0, b * classes), start * classes);
      if (stats) fillExampleStats(stats, start, data, b, classes, ds.y, 1, ds.subset);
    }
    return { correct, logits, stats };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Index of the largest value in `a[off .. off+n)`; the first one on ties, as torch.argmax. */
export function argmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  let bestVal = a[off];
  for (let j = 1; j < n; j++) {
    if (a[off + j] > bestVal) {
      bestVal = a[off + j];
      best = j;
    }
  }
  return best;
}

/**
 * The predicted class of one example: the argmax over all `classes` logits at `off`, or over the
 * `subset` classes only (the official model-soups rule for shift sets that cover part of the
 * classes, e.g. ImageNet-R and -A).
 */
export function predictedClass(a: ArrayLike<number>, off: number, classes: number, subset?: readonly number[]): number {
  if (!subset) return argmax(a, off, classes);
  let best = subset[0];
  for (const c of subset) if (a[off + c] > a[off + best]) best = c;
  return best;
}

function pickInput(model: OnnxModelInfo, name: string | undefined): OnnxValue {
  if (name) {
    const v = model.inputs.find((i) => i.name === name);
    if (!v) throw new SoupError('CONFIG_INVALID', `model has no input "${name}" (inputs: ${model.inputs.map((i) => i.name).join(', ')})`, model.path);
    return checkFloat(v, model);
  }
  if (model.inputs.length !== 1) {
    throw new SoupError('CONFIG_INVALID', `model has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}); set "model.input" in modelsoups.json`, model.path);
  }
  return checkFloat(model.inputs[0], model);
}

function checkFloat(v: OnnxValue, model: OnnxModelInfo): OnnxValue {
  if (v.elemType !== undefined && v.elemType !== OnnxDataType.FLOAT) {
    throw new SoupError('ONNX_UNSUPPORTED', `input "${v.name}" is ${dataTypeName(v.elemType)}; only float32 inputs are supported`, model.path);
  }
  return v;
}

function pickOutput(model: OnnxModelInfo, name: string | undefined): OnnxValue {
  if (name) {
    const v = model.outputs.find((o) => o.name === name);
    if (!v) throw new SoupError('CONFIG_INVALID', `model has no output "${name}" (outputs: ${model.outputs.map((o) => o.name).join(', ')})`, model.path);
    return v;
  }
  if (model.outputs.length === 0) throw new SoupError('ONNX_INVALID', 'model has no outputs', model.path);
  return model.outputs[0];
}
