import type * as ortTypes from 'onnxruntime-node';
import { GraphSpace } from '../../src/engine/checkpoints/graphSpace';
import { Evaluator } from '../../src/engine/evaluate/evaluator';
import type { EvalDataset } from '../../src/engine/datasets/evalDataset';
import type { OnnxModelInfo } from '../../src/engine/formats/onnxModel';
import type { MeanOptions } from '../../src/engine/soups/streamingMean';
import { StreamingMean } from '../../src/engine/soups/streamingMean';
import { WeightReader, WeightSum } from '../../src/engine/soups/weights';

/** Where a cook's time went, measured by wrapping engine methods (no engine change needed). */
export interface Probe {
  /** Time inside StreamingMean.mean and WeightSum.add / meanWith (reading + summing + dividing), ms. */
  averageMs: number;
  /** Weight bytes streamed (each member's bytes per StreamingMean.mean, one model's per add / meanWith(candidate)). */
  averageBytes: number;
  /** Number of ingredient reads by the averaging (K per StreamingMean.mean, 1 per add / meanWith with a candidate). */
  averagePasses: number;
  /** Time reading weights outside averaging (each ingredient loaded for its own evaluation), ms. */
  loadWeightsMs: number;
  loadWeightsBytes: number;
  /** Time inside Evaluator.run (forward passes over a dataset), ms. */
  forwardMs: number;
  /** Process CPU time (all threads) during Evaluator.run, ms: forwardCpuMs / forwardMs = cores busy. */
  forwardCpuMs: number;
  /** Evaluator.run calls per dataset key. */
  passesPerDataset: Record<string, number>;
  /** onnxruntime sessions created, and time spent creating them (ms). */
  sessions: number;
  sessionMs: number;
  /** Time writing checkpoint ingredients as float32 graph weights into the cook's temp folder (GraphSpace.materialise), ms. */
  graphSpaceMs: number;
  /** Checkpoint ingredients materialised. */
  graphSpaceModels: number;
  /** Intra-op threads requested of onnxruntime by the engine (the last session created). */
  intraOpThreads?: number;
}

export function newProbe(): Probe {
  return { averageMs: 0, averageBytes: 0, averagePasses: 0, loadWeightsMs: 0, loadWeightsBytes: 0, forwardMs: 0, forwardCpuMs: 0, passesPerDataset: {}, sessions: 0, sessionMs: 0, graphSpaceMs: 0, graphSpaceModels: 0 };
}

let installed: Probe | undefined;

/**
 * Wraps StreamingMean, WeightSum, WeightReader, GraphSpace.materialise, Evaluator.run and onnxruntime's InferenceSession.create so
 * that every later call is accounted in the returned probe. Call once per process.
 */
export function installProbe(): Probe {
  if (installed) return installed;
  const probe = newProbe();
  installed = probe;
  let averaging = 0;

  const add = WeightSum.prototype.add;
  WeightSum.prototype.add = async function (this: WeightSum, model: OnnxModelInfo, signal?: AbortSignal) {
    const t = performance.now();
    averaging++;
    try {
      return await add.call(this, model, signal);
    } finally {
      averaging--;
      probe.averageMs += performance.now() - t;
      probe.averageBytes += modelBytes(model);
      probe.averagePasses++;
    }
  };
  const meanWith = WeightSum.prototype.meanWith;
  WeightSum.prototype.meanWith = async function (this: WeightSum, extra, out, signal) {
    const t = performance.now();
    averaging++;
    try {
      return await meanWith.call(this, extra, out, signal);
    } finally {
      averaging--;
      probe.averageMs += performance.now() - t;
      if (extra) {
        probe.averageBytes += modelBytes(extra);
        probe.averagePasses++;
      }
    }
  };
  const mean = StreamingMean.prototype.mean;
  StreamingMean.prototype.mean = async function (this: StreamingMean, models: OnnxModelInfo[], opts?: MeanOptions) {
    const t = performance.now();
    averaging++;
    try {
      return await mean.call(this, models, opts);
    } finally {
      averaging--;
      probe.averageMs += performance.now() - t;
      probe.averageBytes += models.reduce((s, m) => s + modelBytes(m), 0);
      probe.averagePasses += models.length;
    }
  };
  const materialise = GraphSpace.prototype.materialise;
  GraphSpace.prototype.materialise = async function (this: GraphSpace, ...args: Parameters<GraphSpace['materialise']>) {
    const t = performance.now();
    try {
      return await materialise.apply(this, args);
    } finally {
      probe.graphSpaceMs += performance.now() - t;
      probe.graphSpaceModels++;
    }
  };
  const read = WeightReader.prototype.read;
  WeightReader.prototype.read = async function (this: WeightReader, i, into) {
    if (averaging > 0) return read.call(this, i, into);
    const t = performance.now();
    try {
      return await read.call(this, i, into);
    } finally {
      probe.loadWeightsMs += performance.now() - t;
      probe.loadWeightsBytes += this.model.weights[i].data.length;
    }
  };
  const run = Evaluator.prototype.run;
  Evaluator.prototype.run = async function (this: Evaluator, weights, ds: EvalDataset, opts) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    try {
      return await run.call(this, weights, ds, opts);
    } finally {
      const used = process.cpuUsage(cpu);
      probe.forwardMs += performance.now() - t;
      probe.forwardCpuMs += (used.user + used.system) / 1000;
      probe.passesPerDataset[ds.key] = (probe.passesPerDataset[ds.key] ?? 0) + 1;
    }
  };
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = async function (...args: unknown[]) {
    const t = performance.now();
    try {
      for (const a of args) {
        const threads = (a as { intraOpNumThreads?: number } | undefined)?.intraOpNumThreads;
        if (a && typeof a === 'object' && !(a instanceof Uint8Array) && threads !== undefined) probe.intraOpThreads = threads;
      }
      return await (create as (...a: unknown[]) => Promise<ortTypes.InferenceSession>).apply(ort.InferenceSession, args);
    } finally {
      probe.sessions++;
      probe.sessionMs += performance.now() - t;
    }
  } as typeof create;
  return probe;
}

/** Bytes of float weights of a model. */
export function modelBytes(model: OnnxModelInfo): number {
  return model.weights.reduce((s, w) => s + w.data.length, 0);
}
