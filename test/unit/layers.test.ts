import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers imported (statically, dynamically or by require) by a TypeScript file. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) specs.push(m[1]);
  return specs;
}

function resolvedLayer(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const rel = path.relative(REPO, path.resolve(path.dirname(file), spec)).split(path.sep);
  return rel[0] === 'src' ? `src/${rel[1]}` : rel[0];
}

describe('layers import in one direction only', () => {
  const check = (dir: string, rule: (spec: string, layer: string | undefined) => string | undefined) => {
    const problems: string[] = [];
    for (const file of sources(path.join(REPO, dir))) {
      for (const spec of imports(file)) {
        const why = rule(spec, resolvedLayer(file, spec));
        if (why) problems.push(`${path.relative(REPO, file)} imports "${spec}": ${why}`);
      }
    }
    assert.deepEqual(problems, []);
  };

  it('src/engine never imports vscode or the layers above it (only the pure helpers of src/shared)', () =>
    check('src/engine', (spec, layer) => {
      if (spec === 'vscode') return 'the engine is pure TypeScript';
      if (layer === 'src/shared') return /\/shared\/(format|validation)$/.test(spec) ? undefined : 'the engine may use only the pure helpers of src/shared, not the protocols';
      return layer && layer !== 'src/engine' ? `the engine must not depend on ${layer}` : undefined;
    }));

  it('src/shared holds types and validators only', () =>
    check('src/shared', (spec, layer) => (spec === 'vscode' || spec.startsWith('node:') || spec === 'onnxruntime-node' ? 'shared code runs in the webview too' : layer && !['src/shared', 'src/engine'].includes(layer) ? `must not depend on ${layer}` : undefined)));

  it('the webview talks to the host only through src/shared', () =>
    check('webview', (spec, layer) => (spec === 'vscode' || spec.startsWith('node:') ? 'browser code' : layer && !['webview', 'src/shared'].includes(layer) ? `must not depend on ${layer}` : undefined)));

  it('the CLI and the worker use the engine, never the VS Code layer', () => {
    for (const dir of ['src/cli', 'src/worker']) {
      check(dir, (spec, layer) => (spec === 'vscode' ? 'runs outside VS Code' : layer === 'src/extension' ? 'must not depend on the extension' : undefined));
    }
  });

  it('the extension host never loads onnxruntime (only the worker does)', () =>
    check('src/extension', (spec) => (spec === 'onnxruntime-node' || /evaluate\/evaluator|cookSoup$/.test(spec) ? 'inference belongs to the background process' : undefined)));

  it('the extension host and the CLI know soup methods from the catalogue, not their implementations', () => {
    check('src/extension', (spec) => (/soups\/(?!catalogue$)/.test(spec) ? 'averaging belongs to the background process; use soups/catalogue' : undefined));
    check('src/cli', (spec) => (/soups\/(?!catalogue$)/.test(spec) ? 'the CLI cooks through cookSoup; use soups/catalogue' : undefined));
  });
});

describe('the built extension host bundle', () => {
  // Code that belongs to the background cook, each with a marker that survives minification
  // (strings, property names, array literals), plus the class name in development builds.
  const cookOnly: [what: string, marker: RegExp][] = [
    ['the averaging code (StreamingMean)', /\bStreamingMean\b|chunkElems must be a positive multiple/],
    // Not any WebAssembly: protobufjs's 'long' (used to read ONNX structure) carries its own.
    ['the averaging kernel (WebAssembly SIMD and JS)', /\bdivToF32\b/],
    ['the averaging worker bootstrap', /worker_threads|parentPort/],
    ['onnxruntime', /onnxruntime-node|InferenceSession/],
  ];
  const bundle = (name: string): string => {
    const file = path.join(REPO, 'dist', name);
    assert.ok(existsSync(file), `${file} is missing: run "npm run build" first`);
    return readFileSync(file, 'utf8');
  };

  it('the markers find that code in the worker bundle', () => {
    const worker = bundle('worker.js');
    assert.deepEqual(cookOnly.filter(([, marker]) => !marker.test(worker)).map(([what]) => what), []);
  });

  it('dist/extension.js carries none of it: the host only sees the method catalogue', () => {
    const extension = bundle('extension.js');
    assert.deepEqual(cookOnly.filter(([, marker]) => marker.test(extension)).map(([what]) => what), []);
  });
});
