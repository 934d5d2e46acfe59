import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OnnxDataType, onnxTypes } from '../../src/engine/formats/onnxSchema';
import { lengthDelimited, tag, varint } from '../../src/engine/formats/protoWire';

/** A float initializer to write: its bytes come from the caller, one tensor at a time. */
export interface BuildTensor {
  name: string;
  dims: number[];
  /** FLOAT (default) or DOUBLE. */
  dataType?: number;
}

/** A graph input or output; a string dimension is symbolic (e.g. `batch`). */
export interface BuildValue {
  name: string;
  dims: (number | string)[];
  elemType?: number;
}

/** A node: op type, inputs, outputs, and INT / FLOAT attributes. */
export interface BuildNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  ints?: Record<string, number>;
  floats?: Record<string, number>;
}

/** A model to write: one graph whose float initializers are `initializers`. */
export interface BuildGraph {
  name: string;
  inputs: BuildValue[];
  outputs: BuildValue[];
  nodes: BuildNode[];
  initializers: BuildTensor[];
  /** Default opset 17. */
  opset?: number;
}

/** Tensor data by initializer index (called once per tensor, in order). */
export type TensorSource = (i: number) => Float32Array | Float64Array | Promise<Float32Array | Float64Array>;

/** Options for {@link writeOnnxModel}. */
export interface WriteModelOptions {
  /**
   * Store every initializer in this external data file (relative to the model's folder, as ONNX
   * `location`), each tensor at an offset aligned to {@link EXTERNAL_ALIGNMENT}. Default: inline.
   */
  externalData?: string;
}

/** Offsets of tensors in external data files are multiples of this (what onnx aligns to). */
export const EXTERNAL_ALIGNMENT = 4096;

const IR_VERSION = 8;
const DEFAULT_OPSET = 17;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const WRITE_CHUNK = 1 << 30;

/**
 * A multi-layer perceptron `Gemm(transB) -> Relu -> ... -> Gemm` over `sizes`
 * (`[in, hidden..., classes]`): weights `fc{i}.weight [out, in]` and `fc{i}.bias [out]`, input
 * `x [batch, in]`, output `logits [batch, classes]`. Used for generated benchmark zoos and tests.
 */
export function mlpGraph(sizes: number[], name = 'mlp'): BuildGraph {
  if (sizes.length < 2) throw new RangeError('an MLP needs at least an input and an output size');
  const nodes: BuildNode[] = [];
  const initializers: BuildTensor[] = [];
  let prev = 'x';
  for (let i = 0; i + 1 < sizes.length; i++) {
    const w = `fc${i}.weight`;
    const b = `fc${i}.bias`;
    initializers.push({ name: w, dims: [sizes[i + 1], sizes[i]] }, { name: b, dims: [sizes[i + 1]] });
    const last = i + 2 === sizes.length;
    const out = last ? 'logits' : `h${i}`;
    nodes.push({ opType: 'Gemm', inputs: [prev, w, b], outputs: [out], ints: { transB: 1 } });
    if (!last) {
      nodes.push({ opType: 'Relu', inputs: [out], outputs: [`a${i}`] });
      prev = `a${i}`;
    }
  }
  return {
    name,
    inputs: [{ name: 'x', dims: ['batch', sizes[0]] }],
    outputs: [{ name: 'logits', dims: ['batch', sizes[sizes.length - 1]] }],
    nodes,
    initializers,
  };
}

/** Number of float parameters of a graph's initializers. */
export function parameterCount(graph: BuildGraph): number {
  return graph.initializers.reduce((s, t) => s + numel(t.dims), 0);
}

/**
 * Encodes a whole model in memory with every initializer inline (raw_data). For models under
 * 2 GB (the protobuf limit); use {@link writeOnnxModel} for anything larger.
 */
export function encodeOnnxModel(graph: BuildGraph, data: (Float32Array | Float64Array)[]): Buffer {
  const parts: Buffer[] = [];
  const tensors = graph.initializers.map((t, i) => {
    const arr = data[i];
    checkData(t, arr);
    const header = tensorHeader(t, undefined);
    const bytes = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    return Buffer.concat([header, tag(9, 2), varint(bytes.length), bytes]);
  });
  const { before, after } = graphParts(graph);
  const graphLen = before.length + after.length + tensors.reduce((s, t) => s + fieldLength(t.length), 0);
  parts.push(modelHeader(graph), tag(7, 2), varint(graphLen), before);
  for (const t of tensors) parts.push(tag(5, 2), varint(t.length), t);
  parts.push(after);
  return Buffer.concat(parts);
}

/**
 * Writes a model to `file`, streaming tensor data from `source` one tensor at a time, so models
 * far larger than one Node buffer (with `externalData`) can be written with one tensor in memory.
 * Inline models must stay under 2 GB (the protobuf limit ONNX readers enforce).
 */
export async function writeOnnxModel(file: string, graph: BuildGraph, source: TensorSource, opts: WriteModelOptions = {}): Promise<void> {
  const external = opts.externalData;
  if (external !== undefined && (path.isAbsolute(external) || external.split(/[\\/]/).includes('..'))) {
    throw new RangeError(`external data location "${external}" must stay inside the model's folder`);
  }
  const sizes = graph.initializers.map((t) => numel(t.dims) * itemSize(t));
  // Tensor headers do not depend on the data, so the graph length is known before any data is read.
  const offsets: number[] = [];
  let dataEnd = 0;
  for (const n of sizes) {
    dataEnd = align(dataEnd);
    offsets.push(dataEnd);
    dataEnd += n;
  }
  const headers = graph.initializers.map((t, i) => tensorHeader(t, external === undefined ? undefined : { location: external, offset: offsets[i], length: sizes[i] }));
  const tensorLen = (i: number) => headers[i].length + (external === undefined ? fieldLength(sizes[i]) : 0);
  const { before, after } = graphParts(graph);
  let graphLen = before.length + after.length;
  for (let i = 0; i < headers.length; i++) graphLen += fieldLength(tensorLen(i));
  if (external === undefined && graphLen > 2 ** 31 - 1) {
    throw new RangeError(`an inline model of ${graphLen} bytes exceeds the 2 GB protobuf limit; use externalData`);
  }
  const fh = await fsp.open(file, 'w');
  const dataFh = external === undefined ? undefined : await fsp.open(path.join(path.dirname(file), external), 'w');
  try {
    const out = new SequentialWriter(fh);
    await out.write(Buffer.concat([modelHeader(graph), tag(7, 2), varint(graphLen), before]));
    for (const [i, t] of graph.initializers.entries()) {
      const arr = await source(i);
      checkData(t, arr);
      const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
      await out.write(Buffer.concat([tag(5, 2), varint(tensorLen(i)), headers[i]]));
      if (dataFh) {
        await writeAt(dataFh, bytes, offsets[i]);
      } else {
        await out.write(Buffer.concat([tag(9, 2), varint(bytes.length)]));
        await out.write(bytes);
      }
    }
    await out.write(after);
    if (dataFh && dataEnd > 0) await dataFh.truncate(dataEnd);
  } finally {
    await fh.close();
    await dataFh?.close();
  }
}

class SequentialWriter {
  private pos = 0;
  constructor(private readonly fh: fsp.FileHandle) {}
  async write(bytes: Uint8Array): Promise<void> {
    await writeAt(this.fh, bytes, this.pos);
    this.pos += bytes.length;
  }
}

async function writeAt(fh: fsp.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(WRITE_CHUNK, bytes.length - done), position + done);
    done += bytesWritten;
  }
}

function modelHeader(graph: BuildGraph): Buffer {
  const opset = onnxTypes.opset.encode({ domain: '', version: graph.opset ?? DEFAULT_OPSET }).finish();
  return Buffer.concat([
    tag(1, 0), varint(IR_VERSION),
    lengthDelimited(2, Buffer.from('model-soups onnxBuild')),
    lengthDelimited(8, Buffer.from(opset)),
  ]);
}

/** Graph fields before the initializers (nodes, name) and after them (inputs, outputs). */
function graphParts(graph: BuildGraph): { before: Buffer; after: Buffer } {
  const nodes = graph.nodes.map((n) => {
    const attribute = [
      ...Object.entries(n.ints ?? {}).map(([name, i]) => ({ name, type: ATTR_INT, i })),
      ...Object.entries(n.floats ?? {}).map(([name, f]) => ({ name, type: ATTR_FLOAT, f })),
    ];
    return lengthDelimited(1, Buffer.from(onnxTypes.node.encode({ input: n.inputs, output: n.outputs, op_type: n.opType, attribute }).finish()));
  });
  const value = (fieldNum: number, v: BuildValue) => {
    const dim = v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
    const body = onnxTypes.valueInfo.encode({ name: v.name, type: { tensor_type: { elem_type: v.elemType ?? OnnxDataType.FLOAT, shape: { dim } } } }).finish();
    return lengthDelimited(fieldNum, Buffer.from(body));
  };
  return {
    before: Buffer.concat([...nodes, lengthDelimited(2, Buffer.from(graph.name))]),
    after: Buffer.concat([...graph.inputs.map((v) => value(11, v)), ...graph.outputs.map((v) => value(12, v))]),
  };
}

/** TensorProto fields other than raw_data (which, when inline, follows as field 9). */
function tensorHeader(t: BuildTensor, external: { location: string; offset: number; length: number } | undefined): Buffer {
  const msg: Record<string, unknown> = { dims: t.dims, data_type: t.dataType ?? OnnxDataType.FLOAT, name: t.name };
  if (external) {
    msg.external_data = [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(external.length) },
    ];
    msg.data_location = 1;
  }
  return Buffer.from(onnxTypes.tensor.encode(onnxTypes.tensor.fromObject(msg)).finish());
}

function checkData(t: BuildTensor, arr: Float32Array | Float64Array | undefined): void {
  const want = (t.dataType ?? OnnxDataType.FLOAT) === OnnxDataType.DOUBLE ? Float64Array : Float32Array;
  if (!(arr instanceof want) || arr.length !== numel(t.dims)) {
    throw new RangeError(`data for "${t.name}" must be a ${want.name} of ${numel(t.dims)} elements`);
  }
}

function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function itemSize(t: BuildTensor): number {
  return (t.dataType ?? OnnxDataType.FLOAT) === OnnxDataType.DOUBLE ? 8 : 4;
}

function align(n: number): number {
  return Math.ceil(n / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
}

function fieldLength(bodyLength: number): number {
  return 1 + varint(bodyLength).length + bodyLength;
}

