/**
 * The nodes of an ONNX graph read by {@link readOnnxModel} (decoded from the raw graph fields it
 * keeps), and the module scope an exporter gives them: `/fc1/MatMul` -> `fc1`,
 * `/encoder/layer.0/attention/MatMul` -> `encoder.layer.0.attention`.
 */
import * as protobuf from 'protobufjs';
import type { OnnxModelInfo } from '../formats/onnxModel';
import { onnxTypes } from '../formats/onnxSchema';

/** A graph node as far as name mapping needs it. */
export interface GraphNode {
  name: string;
  opType: string;
  inputs: string[];
}

/** Every node of the graph, in file order. */
export function graphNodes(model: Pick<OnnxModelInfo, 'graphFields'>): GraphNode[] {
  const nodes: GraphNode[] = [];
  for (const raw of model.graphFields) {
    const r = protobuf.Reader.create(raw);
    const tag = r.uint32();
    if (tag !== ((1 << 3) | 2)) continue; // GraphProto.node = 1, length-delimited
    const len = r.uint32();
    const n = onnxTypes.node.toObject(onnxTypes.node.decode(raw.subarray(r.pos, r.pos + len))) as { name?: string; op_type?: string; input?: string[] };
    nodes.push({ name: n.name ?? '', opType: n.op_type ?? '', inputs: n.input ?? [] });
  }
  return nodes;
}

/** The dotted module scope of a node name exported by torch.onnx (`''` when it has none). */
export function nodeScope(nodeName: string): string {
  const parts = nodeName.split('/').filter((p) => p !== '');
  return parts.slice(0, -1).join('.');
}
