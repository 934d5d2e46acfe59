import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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

  it('src/engine never imports vscode or the layers above it', () =>
    check('src/engine', (spec, layer) => (spec === 'vscode' ? 'the engine is pure TypeScript' : layer && layer !== 'src/engine' ? `the engine must not depend on ${layer}` : undefined)));

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
});
