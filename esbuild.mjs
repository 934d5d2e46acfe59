// Bundles the Node entry points (extension host, background worker, CLI, benchmark) and the
// browser entry points (results panel, compare panel) separately: the webview must never pull in Node code.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const nodeEntries = {
  extension: 'src/extension/extension.ts',
  worker: 'src/worker/worker.ts',
  cli: 'src/cli/main.ts',
  bench: 'scripts/bench.ts',
};

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

const builds = [
  {
    ...common,
    entryPoints: Object.fromEntries(Object.entries(nodeEntries).filter(([, f]) => existsSync(f))),
    outdir: 'dist',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // onnxruntime-node and sharp (libvips) are native addons: loaded from node_modules, never bundled.
    external: ['vscode', 'onnxruntime-node', 'sharp'],
  },
];
if (existsSync('webview/main.ts')) {
  builds.push({
    ...common,
    entryPoints: { webview: 'webview/main.ts', compare: 'webview/compareView.ts' },
    outdir: 'dist',
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
  });
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
