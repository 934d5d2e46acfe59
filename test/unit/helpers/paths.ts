import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Repository root (tests run from out/test/unit/...). */
export const REPO = path.resolve(__dirname, '..', '..', '..', '..');
/** The bundled example workspace (read-only in tests: copy before changing anything). */
export const EXAMPLE = path.join(REPO, 'examples', 'fashion-soup');
/** PyTorch-computed answers for the example zoo. */
export const EXPECTED_FILE = path.join(REPO, 'test', 'fixtures', 'fashion-soup', 'expected.json');
/** PyTorch-averaged reference soups. */
export const REFERENCE_SOUPS = path.join(REPO, 'test', 'fixtures', 'fashion-soup', 'reference-soups');
/** PyTorch-computed analyses (calibration, WiSE-FT, angles, learned soups) of the example zoo. */
export const ANALYSES_FILE = path.join(REPO, 'test', 'fixtures', 'fashion-soup-analyses', 'analyses.json');

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'soups-test-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Copies parts of the example (paths relative to it) into `dest`. */
export async function copyFromExample(dest: string, parts: string[]): Promise<void> {
  for (const p of parts) await fsp.cp(path.join(EXAMPLE, p), path.join(dest, p), { recursive: true });
}

/**
 * Call inside a `describe`: a temp folder made before its tests and removed after them, and
 * `fresh()`, which makes a new empty sub-folder for one case.
 */
export function caseFolders(prefix: string): { fresh: () => Promise<string>; root: () => string } {
  let tmp = '';
  let k = 0;
  before(async () => {
    tmp = await tempDir(prefix);
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });
  const fresh = async (): Promise<string> => {
    const d = path.join(tmp, `case${k++}`);
    await fsp.mkdir(d, { recursive: true });
    return d;
  };
  return { fresh, root: () => tmp };
}
/** The example's evaluation sets as image folders (a part of them; see its README.md). */
export const FASHION_IMAGES = path.join(REPO, 'test', 'fixtures', 'fashion-images');
