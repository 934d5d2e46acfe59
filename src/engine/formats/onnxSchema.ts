import * as protobuf from 'protobufjs';

/**
 * The subset of the official `onnx.proto` (onnx/onnx, proto2, package `onnx`) that the engine
 * decodes as whole messages: graph nodes, value infos and their types. Field numbers are the
 * official ones. Tensors and the model/graph containers are walked field by field instead
 * (see onnxModel.ts) so that weight bytes are never copied just to be skipped, and unknown
 * fields are carried over byte for byte.
 */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } optional string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
  optional string denotation = 6;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  optional string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
}
message AttributeProto {
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
}
`;

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;

/** protobufjs types for the decoded ONNX messages. */
export const onnxTypes = {
  node: root.lookupType('onnx.NodeProto'),
  valueInfo: root.lookupType('onnx.ValueInfoProto'),
  tensor: root.lookupType('onnx.TensorProto'),
  opset: root.lookupType('onnx.OperatorSetIdProto'),
  entry: root.lookupType('onnx.StringStringEntryProto'),
};

/** ONNX TensorProto.DataType values the engine names. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

const DTYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(OnnxDataType).map(([k, v]) => [v, k.toLowerCase()]),
);

/** Human name of an ONNX data type ("float", "int64", or "type 42"). */
export function dataTypeName(t: number): string {
  return DTYPE_NAMES[t] ?? `type ${t}`;
}

/** Bytes per element for fixed-size types, undefined for strings and unknown types. */
export function dataTypeSize(t: number): number | undefined {
  switch (t) {
    case OnnxDataType.FLOAT: case OnnxDataType.INT32: case OnnxDataType.UINT32: return 4;
    case OnnxDataType.DOUBLE: case OnnxDataType.INT64: case OnnxDataType.UINT64: return 8;
    case OnnxDataType.FLOAT16: case OnnxDataType.BFLOAT16: case OnnxDataType.INT16: case OnnxDataType.UINT16: return 2;
    case OnnxDataType.INT8: case OnnxDataType.UINT8: case OnnxDataType.BOOL: return 1;
    default: return undefined;
  }
}

/** Float types whose weights a soup averages. Integer tensors are never averaged. */
export function isAveragedType(t: number): boolean {
  return t === OnnxDataType.FLOAT || t === OnnxDataType.DOUBLE;
}
