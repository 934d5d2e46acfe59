import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { WeightSet } from '../soups/weights';
import type { OnnxModelInfo } from './onnxModel';

/**
 * Writes `weights` into a copy of `template` (one of the soup's members) under `dir`: the model
 * file is copied and each averaged weight's bytes are overwritten in place (same shape, same
 * length), so every other field of the member is kept byte for byte. External data files the
 * template uses are copied next to it under the same relative locations and patched the same
 * way. The template's own files are only read. Returns the written model path.
 */
export async function writePatchedModel(template: OnnxModelInfo, weights: WeightSet, dir: string, fileName: string): Promise<string> {
  const target = path.join(dir, fileName);
  await fsp.copyFile(template.path, target);
  const copies = new Map<string, string>([[template.path, target]]);
  for (const w of template.weights) {
    if (w.data.kind !== 'external' || copies.has(w.data.file)) continue;
    const dest = path.join(dir, w.data.location);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.copyFile(w.data.file, dest);
    copies.set(w.data.file, dest);
  }
  const handles = new Map<string, fsp.FileHandle>();
  try {
    for (const [i, w] of template.weights.entries()) {
      const file = copies.get(w.data.kind === 'inline' ? template.path : w.data.file) as string;
      let fh = handles.get(file);
      if (!fh) {
        fh = await fsp.open(file, 'r+');
        handles.set(file, fh);
      }
      const arr = weights[i];
      const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, done, Math.min(1 << 30, bytes.length - done), w.data.offset + done);
        done += bytesWritten;
      }
    }
    for (const fh of handles.values()) await fh.sync();
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  return target;
}
