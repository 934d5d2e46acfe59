import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO } from './paths';

/** The built CLI (`npm run build` first). */
export const BIN = path.join(REPO, 'bin', 'model-soup.js');

/** Runs the CLI with `args` in a child process and returns its exit code and output. */
export function runCli(args: string[], timeoutMs = 240_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
