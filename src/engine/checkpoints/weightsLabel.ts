import type { RunRecord } from '../discovery/runRecord';

/**
 * How a run's weights are shown in lists (scan table, tree description): `onnx`, or the
 * checkpoint format and its float dtype once read (`safetensors bf16`, `torch f32`).
 */
export function weightsLabel(run: Pick<RunRecord, 'weights'>): string {
  const w = run.weights;
  if (!w) return 'onnx';
  return w.dtype ? `${w.format} ${w.dtype}` : w.format;
}
