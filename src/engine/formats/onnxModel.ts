import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { SoupError } from '../errors';
import { FileCursor } from './fileCursor';
import { dataTypeName, dataTypeSize, isAveragedType, OnnxDataType, onnxTypes } from './onnxSchema';

/** Where a tensor's bytes live: inside the .onnx file, or in an external data file. */
export type TensorData =
  | { kind: 'inline'; offset: number; length: number }
  | { kind: 'external'; file: string; location: string; offset: number; length: number };

/** A float initializer of the model: one weight a soup averages. */
export interface OnnxWeight {
  name: string;
  dataType: number;
  dims: number[];
  numel: number;
  /** Little-endian element bytes (raw_data or packed float_data/double_data: same layout). */
  data: TensorData;
}

/** A graph input or output. Symbolic dimensions are strings, unknown ones `null`. */
export interface OnnxValue {
  name: string;
  elemType?: number;
  dims: (number | string | null)[];
}

/** The structure of an ONNX model, read without loading its weights. */
export interface OnnxModelInfo {
  path: string;
  fileSize: number;
  irVersion: number;
  /** Graph inputs that are not initializers (what the caller feeds). */
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Float initializers in file order: the averaged weights. */
  weights: OnnxWeight[];
  parameterCount: number;
  /** One line per weight and node: what must match for two models to be averaged. */
  architecture: string[];
  /** SHA-256 of `architecture`. */
  architectureKey: string;
  /** Raw bytes of top-level ModelProto fields other than the graph (kept verbatim on rebuild). */
  modelFields: Buffer[];
  /** Raw bytes of GraphProto fields other than float initializers (nodes, inputs, outputs, ...). */
  graphFields: Buffer[];
  /** Names listed as graph inputs (including old-IR initializers listed as inputs). */
  graphInputNames: string[];
}

const MAX_STRUCTURE_FIELD = 64 * 1024 * 1024;

/**
 * Reads the structure of an ONNX model: inputs, outputs, nodes and where each weight's bytes
 * are. Weight bytes are skipped, not read. Throws SoupError ONNX_INVALID (truncated, not ONNX,
 * bad tensors, external data outside the model's folder) or ONNX_UNSUPPORTED.
 */
export async function readOnnxModel(file: string): Promise<OnnxModelInfo> {
  let cur: FileCursor;
  try {
    cur = await FileCursor.open(file);
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw new SoupError('READ_FAILED', `cannot open model (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  }
  try {
    return await parseModel(cur, file);
  } catch (err) {
    if (err instanceof SoupError) throw err;
    throw new SoupError('ONNX_INVALID', `not a valid ONNX model (${(err as Error).message})`, file);
  } finally {
    await cur.close();
  }
}

async function parseModel(cur: FileCursor, file: string): Promise<OnnxModelInfo> {
  if (cur.size === 0) throw new SoupError('ONNX_INVALID', 'empty file, not an ONNX model', file);
  const modelFields: Buffer[] = [];
  let irVersion: number | undefined;
  let graph: GraphParts | undefined;
  while (cur.pos < cur.size) {
    const start = cur.pos;
    const tag = await cur.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 0) throw new RangeError(`invalid field number 0 at byte ${start}`);
    if (field === 7 && wt === 2) {
      if (graph) throw new RangeError('two graphs in one model');
      const len = await cur.varint();
      graph = await parseGraph(cur, cur.pos + len, file);
      continue;
    }
    if (field === 1 && wt === 0) {
      irVersion = await cur.varint();
    } else {
      await cur.skipValue(wt);
    }
    if (field !== 1) modelFields.push(await rawSpan(cur, start));
  }
  if (!graph || irVersion === undefined) {
    throw new SoupError('ONNX_INVALID', `not an ONNX model (${!graph ? 'no graph' : 'no ir_version'} found)`, file);
  }
  const initNames = new Set([...graph.weights.map((w) => w.name), ...graph.otherInitNames]);
  const inputs = graph.inputs.filter((v) => !initNames.has(v.name));
  const architecture = [
    ...graph.weights.map((w) => `weight ${w.name} ${dataTypeName(w.dataType)}[${w.dims.join(',')}]`),
    ...graph.nodeLines,
    ...inputs.map((v) => `input ${v.name} ${dataTypeName(v.elemType ?? 0)}[${v.dims.map(dimText).join(',')}]`),
    ...graph.outputs.map((v) => `output ${v.name} ${dataTypeName(v.elemType ?? 0)}[${v.dims.map(dimText).join(',')}]`),
  ];
  return {
    path: file,
    fileSize: cur.size,
    irVersion,
    inputs,
    outputs: graph.outputs,
    weights: graph.weights,
    parameterCount: graph.weights.reduce((s, w) => s + w.numel, 0),
    architecture,
    architectureKey: createHash('sha256').update(architecture.join('\n')).digest('hex').slice(0, 16),
    modelFields,
    graphFields: graph.fields,
    graphInputNames: graph.inputs.map((v) => v.name),
  };
}

interface GraphParts {
  fields: Buffer[];
  weights: OnnxWeight[];
  otherInitNames: string[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodeLines: string[];
}

async function rawSpan(cur: FileCursor, start: number): Promise<Buffer> {
  const end = cur.pos;
  if (end - start > MAX_STRUCTURE_FIELD) throw new RangeError(`field of ${end - start} bytes is too large`);
  cur.pos = start;
  return cur.bytes(end - start);
}

async function parseGraph(cur: FileCursor, end: number, file: string): Promise<GraphParts> {
  if (end > cur.size) throw new RangeError('graph runs past the end of the file (truncated?)');
  const parts: GraphParts = { fields: [], weights: [], otherInitNames: [], inputs: [], outputs: [], nodeLines: [] };
  const weightNames = new Set<string>();
  while (cur.pos < end) {
    const start = cur.pos;
    const tag = await cur.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 5 && wt === 2) {
      const len = await cur.varint();
      const tensor = await parseTensor(cur, cur.pos + len, file);
      if (tensor.weight) {
        if (weightNames.has(tensor.weight.name)) throw new RangeError(`initializer "${tensor.weight.name}" appears twice`);
        weightNames.add(tensor.weight.name);
        parts.weights.push(tensor.weight);
        continue;
      }
      parts.otherInitNames.push(tensor.name);
      parts.fields.push(await rawSpan(cur, start));
      continue;
    }
    await cur.skipValue(wt);
    const raw = await rawSpan(cur, start);
    parts.fields.push(raw);
    if (wt !== 2) continue;
    const body = messageBody(raw);
    if (field === 1) parts.nodeLines.push(nodeLine(body));
    else if (field === 11) parts.inputs.push(valueInfo(body));
    else if (field === 12) parts.outputs.push(valueInfo(body));
  }
  if (cur.pos !== end) throw new RangeError('graph fields overrun the graph length');
  return parts;
}

/** Strips the tag and length prefix of a raw length-delimited field. */
function messageBody(raw: Buffer): Uint8Array {
  const r = protobuf.Reader.create(raw);
  r.uint32();
  const len = r.uint32();
  return raw.subarray(r.pos, r.pos + len);
}

interface ParsedTensor {
  name: string;
  weight?: OnnxWeight;
}

async function parseTensor(cur: FileCursor, end: number, file: string): Promise<ParsedTensor> {
  if (end > cur.size) throw new RangeError('initializer runs past the end of the file (truncated?)');
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let inline: { offset: number; length: number } | undefined;
  const external: Record<string, string> = {};
  let dataLocation = 0;
  let unpacked = false;
  while (cur.pos < end) {
    const tag = await cur.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1 && wt === 0) dims.push(await cur.varint());
    else if (field === 1 && wt === 2) {
      const stop = cur.pos + (await cur.varint());
      while (cur.pos < stop) dims.push(await cur.varint());
    } else if (field === 2 && wt === 0) dataType = await cur.varint();
    else if (field === 8 && wt === 2) name = (await cur.bytes(await cur.varint())).toString('utf8');
    else if ((field === 9 || field === 4 || field === 10) && wt === 2) {
      const length = await cur.varint();
      inline = { offset: cur.pos, length };
      cur.skip(length);
    } else if ((field === 4 && wt === 5) || (field === 10 && wt === 1)) {
      unpacked = true;
      await cur.skipValue(wt);
    } else if (field === 13 && wt === 2) {
      const entry = onnxTypes.entry.toObject(onnxTypes.entry.decode(await cur.bytes(await cur.varint()))) as { key?: string; value?: string };
      if (entry.key) external[entry.key] = entry.value ?? '';
    } else if (field === 14 && wt === 0) dataLocation = await cur.varint();
    else await cur.skipValue(wt);
  }
  if (cur.pos !== end) throw new RangeError(`initializer "${name}" overruns its length`);
  if (dataType === OnnxDataType.FLOAT16 || dataType === OnnxDataType.BFLOAT16) {
    // Keeping them from one member would silently make a soup that is not an average.
    throw new SoupError('ONNX_UNSUPPORTED', `weight "${name}" is ${dataTypeName(dataType)}; averaging half-precision weights is not supported yet (export in float32)`, file);
  }
  if (!isAveragedType(dataType)) return { name };
  const label = `weight "${name}"`;
  if (dims.some((d) => d > 2 ** 40)) throw new SoupError('ONNX_INVALID', `${label} has an absurd dimension [${dims.join(',')}]`, file);
  const numel = dims.reduce((a, b) => a * b, 1);
  const itemSize = dataTypeSize(dataType) ?? 4;
  const byteLength = numel * itemSize;
  if (unpacked) throw new SoupError('ONNX_UNSUPPORTED', `${label} stores its values unpacked; re-export the model`, file);
  let data: TensorData;
  if (dataLocation === 1) {
    data = await resolveExternal(file, label, external, byteLength);
  } else if (inline) {
    data = { kind: 'inline', ...inline };
  } else if (numel === 0) {
    data = { kind: 'inline', offset: 0, length: 0 };
  } else {
    throw new SoupError('ONNX_INVALID', `${label} has no data`, file);
  }
  if (data.length !== byteLength) {
    throw new SoupError('ONNX_INVALID', `${label} holds ${data.length} bytes but its shape [${dims.join(',')}] of ${dataTypeName(dataType)} needs ${byteLength}`, file);
  }
  return { name, weight: { name, dataType, dims, numel, data } };
}

/**
 * Resolves an external-data reference. The location must be a relative path that stays inside
 * the model's folder, also after resolving symlinks: a model must not make us read other files.
 */
async function resolveExternal(file: string, label: string, entries: Record<string, string>, byteLength: number): Promise<TensorData> {
  const location = entries.location;
  if (!location) throw new SoupError('ONNX_INVALID', `${label} is stored externally but names no location`, file);
  const dir = path.dirname(file);
  const parts = location.split(/[\\/]/);
  if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || parts.includes('..')) {
    throw new SoupError('ONNX_INVALID', `${label}: external data location "${location}" points outside the model's folder; refused`, file);
  }
  const target = path.resolve(dir, location);
  let real: string;
  let stat: Awaited<ReturnType<typeof fsp.stat>>;
  try {
    real = await fsp.realpath(target);
    stat = await fsp.stat(real);
  } catch {
    throw new SoupError('FILE_NOT_FOUND', `${label}: external data file "${location}" not found`, file);
  }
  const realDir = await fsp.realpath(dir);
  if (!real.startsWith(realDir + path.sep)) {
    throw new SoupError('ONNX_INVALID', `${label}: external data location "${location}" links outside the model's folder; refused`, file);
  }
  // A folder would pass the range check (its stat size) and fail only when read, untyped.
  if (!stat.isFile()) throw new SoupError('ONNX_INVALID', `${label}: external data "${location}" is not a file`, file);
  const size = stat.size;
  const offset = entries.offset !== undefined ? Number(entries.offset) : 0;
  const length = entries.length !== undefined ? Number(entries.length) : byteLength;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new SoupError('ONNX_INVALID', `${label}: external data range ${entries.offset ?? 0}+${entries.length ?? byteLength} is outside "${location}" (${size} bytes)`, file);
  }
  return { kind: 'external', file: real, location, offset, length };
}

function valueInfo(body: Uint8Array): OnnxValue {
  const v = onnxTypes.valueInfo.toObject(onnxTypes.valueInfo.decode(body), { longs: Number }) as {
    name?: string;
    type?: { tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number; dim_param?: string }[] } } };
  };
  const tt = v.type?.tensor_type;
  return {
    name: v.name ?? '',
    elemType: tt?.elem_type,
    dims: (tt?.shape?.dim ?? []).map((d) => d.dim_value ?? d.dim_param ?? null),
  };
}

interface DecodedAttr {
  name?: string;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: { dims?: number[]; data_type?: number; raw_data?: Uint8Array; float_data?: number[]; int64_data?: number[] };
  floats?: number[];
  ints?: number[];
}

/** A node as it matters for averaging: op, attributes, and which weights it reads. */
function nodeLine(body: Uint8Array): string {
  const n = onnxTypes.node.toObject(onnxTypes.node.decode(body), { longs: Number, bytes: Array }) as {
    op_type?: string;
    domain?: string;
    input?: string[];
    output?: string[];
    attribute?: DecodedAttr[];
  };
  const attrs = (n.attribute ?? []).map((a) => {
    let value: string;
    if (a.t) {
      const bytes = createHash('sha256').update(JSON.stringify([a.t.raw_data ?? [], a.t.float_data ?? [], a.t.int64_data ?? []])).digest('hex').slice(0, 8);
      value = `tensor ${dataTypeName(a.t.data_type ?? 0)}[${(a.t.dims ?? []).join(',')}]#${bytes}`;
    } else if (a.s) value = JSON.stringify(Buffer.from(a.s).toString('utf8'));
    else if (a.floats?.length) value = `[${a.floats.join(',')}]`;
    else if (a.ints?.length) value = `[${a.ints.join(',')}]`;
    else value = String(a.f ?? a.i ?? '');
    return `${a.name}=${value}`;
  });
  return `node ${n.domain ? n.domain + ':' : ''}${n.op_type ?? '?'}(${attrs.join(' ')}) inputs ${(n.input ?? []).length} outputs ${(n.output ?? []).length}`;
}

function dimText(d: number | string | null): string {
  return d === null ? '?' : String(d);
}

/**
 * The first line where two architectures differ, for "incompatible" reasons:
 * e.g. `weight fc1.weight float[64,1568] vs weight fc1.weight float[128,1568]`.
 */
export function firstArchitectureDifference(a: string[], b: string[]): string {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `${a[i] ?? '(nothing)'} vs ${b[i] ?? '(nothing)'}`;
  }
  return 'no difference';
}
