import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BuildGraph } from '../../synthetic/onnxBuild';
import { writeOnnxModel } from '../../synthetic/onnxBuild';
import type { OnnxModelInfo } from '../../../src/engine/formats/onnxModel';
import { readOnnxModel } from '../../../src/engine/formats/onnxModel';
import type { WeightSet } from '../../../src/engine/soups/weights';

/**
 * Writes each member as `<dir>/m<k>/model.onnx`, alternating inline and external-data storage
 * (an average must not depend on where the bytes live), and reads back their structures.
 */
export async function writeMembers(dir: string, g: BuildGraph, members: WeightSet[]): Promise<OnnxModelInfo[]> {
  const models: OnnxModelInfo[] = [];
  for (const [k, w] of members.entries()) {
    const runDir = path.join(dir, `m${k}`);
    await fsp.mkdir(runDir);
    const file = path.join(runDir, 'model.onnx');
    await writeOnnxModel(file, g, (i) => w[i], { externalData: k % 2 ? 'weights.bin' : undefined });
    models.push(await readOnnxModel(file));
  }
  return models;
}

/** The reference: float64 running sums in member order, divided once, stored in the tensor's type. */
export function inMemoryMean(members: WeightSet[]): WeightSet {
  return members[0].map((first, i) => {
    const sum = new Float64Array(first.length);
    for (const m of members) for (let j = 0; j < sum.length; j++) sum[j] += m[i][j];
    const out = first instanceof Float64Array ? new Float64Array(sum.length) : new Float32Array(sum.length);
    for (let j = 0; j < sum.length; j++) out[j] = sum[j] / members.length;
    return out;
  });
}
