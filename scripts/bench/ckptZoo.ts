import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeSafetensorsFile } from '../../src/engine/formats/safetensorsWrite';
import { mlpGraph, writeOnnxModel } from '../../test/synthetic/onnxBuild';
import type { StorageSpec, TensorSpec } from '../../test/unit/helpers/torchZipWriter';
import { PickleWriter, torchZip } from '../../test/unit/helpers/torchZipWriter';
import type { Zoo, ZooSpec } from './zoo';
import { finishZoo, ingredientTensor, runId } from './zoo';

/** How a checkpoint zoo stores its ingredients. */
export type CheckpointFormat = 'safetensors' | 'ckpt';

/** Where ingredient `k` of a checkpoint zoo lives (its run id). */
export function checkpointRunId(format: CheckpointFormat, k: number): string {
  return format === 'safetensors' ? runId(k) : `lightning_logs/version_${k}`;
}

/** The graph (the one ONNX export) of a checkpoint zoo, relative to the zoo. */
export const ZOO_GRAPH = 'pretrained/model.onnx';

/**
 * The same ingredients as {@link generateZoo}, written as training writes them, with one ONNX
 * export of the architecture as the graph (`"graph"` + `"pretrained"` in `modelsoups.json`, as
 * in fashion-ckpt): `safetensors`: plain runs `runs/ft-XX/{model.safetensors,metrics.json}`;
 * `ckpt`: Lightning runs `lightning_logs/version_K/{metrics.csv,checkpoints/epoch=0-step=100.ckpt}`,
 * a torch.save zip of `{epoch, global_step, state_dict}` with the keys under `model.`.
 */
export async function generateCheckpointZoo(dir: string, spec: ZooSpec, format: CheckpointFormat): Promise<Zoo> {
  const graph = mlpGraph(spec.sizes);
  const specs = graph.initializers.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.dims }));
  // The export and the checkpoint it came from: the base (ingredient "-1", no run of its own).
  const base = (i: number) => ingredientTensor(graph, spec.seed, -1, i);
  await fsp.mkdir(path.join(dir, 'pretrained'), { recursive: true });
  await writeOnnxModel(path.join(dir, ZOO_GRAPH), graph, base);
  await writeSafetensorsFile(path.join(dir, 'pretrained/model.safetensors'), specs, base);
  const runIds: string[] = [];
  for (let k = 0; k < spec.k; k++) {
    const id = checkpointRunId(format, k);
    const runDir = path.join(dir, id);
    // Distinct accuracies, best first in id order, so the greedy order is the id order.
    const acc = 0.9 - k * 0.001;
    if (format === 'safetensors') {
      await fsp.mkdir(runDir, { recursive: true });
      await writeSafetensorsFile(path.join(runDir, 'model.safetensors'), specs, (i) => ingredientTensor(graph, spec.seed, k, i));
      await fsp.writeFile(path.join(runDir, 'metrics.json'), JSON.stringify({ val_accuracy: acc, hparams: { seed: k } }));
    } else {
      await fsp.mkdir(path.join(runDir, 'checkpoints'), { recursive: true });
      const storages: StorageSpec[] = graph.initializers.map((_, i) => {
        const v = ingredientTensor(graph, spec.seed, k, i);
        return { key: String(i), type: 'FloatStorage', numel: v.length, bytes: new Uint8Array(v.buffer) };
      });
      const tensors: TensorSpec[] = graph.initializers.map((t, i) => ({ name: `model.${t.name}`, key: String(i), offset: 0, shape: t.dims, stride: t.dims.map((_, d) => t.dims.slice(d + 1).reduce((a, b) => a * b, 1)) }));
      const pickle = new PickleWriter().emptyDict().mark().str('epoch').int(0).str('global_step').int(100).str('state_dict').stateDict(tensors, storages).setItems().bytes();
      await fsp.writeFile(path.join(runDir, 'checkpoints/epoch=0-step=100.ckpt'), torchZip(pickle, storages));
      await fsp.writeFile(path.join(runDir, 'metrics.csv'), `epoch,step,val_acc\n0,100,${acc}\n`);
    }
    runIds.push(id);
  }
  return finishZoo(dir, spec, graph, runIds, { graph: ZOO_GRAPH, pretrained: 'pretrained/model.safetensors' });
}
