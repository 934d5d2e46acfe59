import type { OnnxModelInfo } from '../formats/onnxModel';
import { onnxTypes } from '../formats/onnxSchema';
import { lengthDelimited, tag, varint } from '../formats/protoWire';

/**
 * Serialises a copy of the model in which every averaged weight is a graph input instead of an
 * initializer, so ONE onnxruntime session per architecture can evaluate any soup by feeding
 * weights. (onnxruntime ignores values fed for names that are still initializers, so they must
 * be removed, not merely listed as inputs.) The weight bytes are not part of the result, and all
 * other fields are carried over byte for byte.
 */
export function buildSessionModel(model: OnnxModelInfo): Buffer {
  const listed = new Set(model.graphInputNames);
  const graphParts: Buffer[] = [...model.graphFields];
  for (const w of model.weights) {
    if (listed.has(w.name)) continue;
    const vi = onnxTypes.valueInfo
      .encode({ name: w.name, type: { tensor_type: { elem_type: w.dataType, shape: { dim: w.dims.map((d) => ({ dim_value: d })) } } } })
      .finish();
    graphParts.push(lengthDelimited(11, vi));
  }
  return Buffer.concat([tag(1, 0), varint(model.irVersion), ...model.modelFields, lengthDelimited(7, Buffer.concat(graphParts))]);
}
