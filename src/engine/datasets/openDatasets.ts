import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { DatasetEntry, DatasetOptions, DatasetSource, SoupConfig } from '../config';
import { SoupError } from '../errors';
import { arrayFilesReader } from './arrayFiles';
import type { DatasetContext, DatasetReader, EvalDataset } from './evalDataset';
import { imageFolderReader } from './imageFolder';
import type { LabelMap } from './labelMap';
import { resolveLabelMap } from './labelMap';
import { mergePreprocessing, readPreprocessorConfig } from './preprocessing';

/** What {@link openDatasets} needs from the cook besides the config. */
export interface OpenDatasetsOptions {
  workspace: string;
  inputName: string;
  inputDims: (number | string | null)[];
  /** Classes of the model output, when the graph says. */
  modelClasses?: number;
  /** Folders searched for `config.json` (id2label) and `preprocessor_config.json`, in order. */
  searchDirs: string[];
  signal?: AbortSignal;
  /** Told while a folder is decoded. */
  onProgress?: (key: string, done: number, total: number) => void;
}

/** The opened datasets, and the label map the folders used (undefined without folders). */
export interface OpenedDatasets {
  datasets: EvalDataset[];
  labelMap?: LabelMap;
}

/** An entry's data source and its per-set settings. */
export function splitEntry(entry: DatasetEntry): { source: DatasetSource; options: Omit<DatasetOptions, 'path'> } {
  if (typeof entry === 'object' && 'path' in entry) {
    const { path: source, ...options } = entry;
    return { source, options };
  }
  return { source: entry, options: {} };
}

/** The reader for a path: image folders are directories; everything else is array files. */
export async function readerFor(file: string, source: DatasetSource): Promise<DatasetReader> {
  if (typeof source !== 'string') return arrayFilesReader;
  const st = await fsp.stat(file).catch(() => undefined);
  return st?.isDirectory() ? imageFolderReader : arrayFilesReader;
}

/**
 * Opens every dataset of `roles` with the reader of its kind. Folders share one label map
 * (`classes`, else a `config.json`'s `id2label`, else the sorted union of their class folder
 * names) and one preprocessing (entry over top-level over `preprocessor_config.json`). A set
 * whose labels cover only some of the classes is scored among those classes when its `subset`
 * says so (default: on for folders). On failure the ones already open are closed.
 */
export async function openDatasets(roles: [string, DatasetEntry][], cfg: SoupConfig, opts: OpenDatasetsOptions): Promise<OpenedDatasets> {
  const entries = await Promise.all(
    roles.map(async ([key, entry]) => {
      const { source, options } = splitEntry(entry);
      const file = path.resolve(opts.workspace, typeof source === 'string' ? source : source.x);
      return { key, source, options, file, reader: await readerFor(file, source) };
    }),
  );
  const folders = entries.filter((e) => e.reader.kind === 'folder');
  let labelMap: LabelMap | undefined;
  if (folders.length > 0) {
    labelMap = resolveLabelMap(cfg.classes, opts.workspace, opts.searchDirs) ?? (await folderNames(folders.map((f) => f.file)));
  }
  const defaults = folders.length > 0 ? readPreprocessorConfig(opts.searchDirs)?.spec : undefined;
  const ctx: DatasetContext = {
    workspace: opts.workspace,
    inputName: opts.inputName,
    inputDims: opts.inputDims,
    scale: cfg.scale,
    maxDatasetMB: cfg.maxDatasetMB,
    labelMap,
    preprocessing: mergePreprocessing(defaults, cfg.preprocessing),
    batchSize: cfg.batchSize,
    signal: opts.signal,
  };
  const datasets: EvalDataset[] = [];
  try {
    for (const e of entries) {
      const ds = await e.reader.open(e.key, e.source, e.options, { ...ctx, onProgress: (d, t) => opts.onProgress?.(e.key, d, t) });
      datasets.push(ds);
      const total = opts.modelClasses ?? labelMap?.names.length;
      if ((e.options.subset ?? e.reader.kind === 'folder') && total !== undefined && ds.classesCovered < total) {
        ds.subset = [...new Set(ds.y)].sort((a, b) => a - b);
      }
    }
  } catch (err) {
    await Promise.all(datasets.map((d) => d.close()));
    throw err;
  }
  return { datasets, labelMap };
}

/** torchvision's rule without a label map: class folders sorted by name (here over every folder set). */
async function folderNames(roots: string[]): Promise<LabelMap> {
  const names = new Set<string>();
  for (const root of roots) {
    const entries = await fsp.readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      throw new SoupError('READ_FAILED', `cannot read the dataset folder (${err.code ?? err.message})`, root);
    });
    for (const e of entries) if (!e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink())) names.add(e.name);
  }
  return { names: [...names].sort(), source: 'folder names' };
}
