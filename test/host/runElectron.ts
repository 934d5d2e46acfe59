// `npm run test:electron`: the same compiled suite (out/test/vscode) under VS Code desktop through
// @vscode/test-electron, for machines that can download VS Code (it needs
// update.code.visualstudio.com). Offline machines use test/host/runCodeServer.mjs instead.
import { runTests } from '@vscode/test-electron';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

// compiled to out/test/host/runElectron.js
const repoRoot = resolve(__dirname, '..', '..', '..');

async function main(): Promise<number> {
  const extensionDevelopmentPath = repoRoot;
  const extensionTestsPath = resolve(__dirname, '..', 'vscode', 'index.js');
  const cacheDir = join(repoRoot, '.cache', 'vscode-electron');

  // A fresh copy of the example, so what the tests write never lands in the repository.
  const runDir = join(cacheDir, 'runs', String(process.pid));
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const workspace = join(runDir, 'fashion-soup');
  cpSync(join(repoRoot, 'examples', 'fashion-soup'), workspace, { recursive: true });

  try {
    return await runTests({
      extensionDevelopmentPath,
      extensionTestsPath,
      cachePath: join(cacheDir, 'vscode'),
      launchArgs: [workspace, '--disable-extensions', '--user-data-dir', join(runDir, 'user-data')],
    });
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('Failed to run the tests under VS Code desktop:', err);
    process.exitCode = 1;
  },
);
