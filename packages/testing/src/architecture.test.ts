/**
 * The import rules of ARCHITECTURE.md, checked on the repository as it is: every workspace
 * package's `package.json` (`dependencies`, `peerDependencies`, `optionalDependencies`) and
 * every `@normbridge/*` import in its non-test source files. Tests and `test-support/` may use
 * test support and engines (dev dependencies), so they are not checked here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const ADAPTERS = ['torch', 'mlx', 'keras', 'flax'];
const ON_TOP = ['cli', 'demo', 'bench', 'example-npm-project', 'example-resnet'];

/** Short names (`@normbridge/` dropped) each package may import; see ARCHITECTURE.md. */
function allowedFor(name: string, all: readonly string[]): readonly string[] {
  if (name === 'core') return [];
  if (name === 'frameworks') return ['core'];
  if (name === 'wasm' || name === 'onnx') return ['core', 'frameworks'];
  if (name === 'tfjs') return ['core', 'frameworks', 'wasm'];
  if (name === 'engines') return ['core', 'tfjs', 'onnx', 'wasm'];
  if (ADAPTERS.includes(name)) return ['core', 'frameworks'];
  if (name === 'safetensors') return ['core', 'frameworks'];
  if (name === 'training') return ['core', 'frameworks', 'tfjs', 'onnx', ...ADAPTERS];
  if (name === 'port') return ['core', 'frameworks', 'safetensors', ...ADAPTERS];
  if (name === 'conformance') return all.filter((n) => !ON_TOP.includes(n) && n !== 'testing' && n !== 'testing-engines' && n !== name);
  if (name === 'testing') return ['core'];
  if (name === 'testing-engines') return ['core', 'tfjs', 'wasm', 'testing'];
  if (ON_TOP.includes(name)) return all.filter((n) => !ON_TOP.includes(n) && n !== 'testing' && n !== 'testing-engines');
  return [];
}

interface Workspace {
  readonly name: string;
  readonly dir: string;
  readonly manifest: Record<string, Record<string, string> | undefined>;
}

function workspaces(): Workspace[] {
  const out: Workspace[] = [];
  for (const group of ['packages', 'adapters', 'examples']) {
    for (const entry of readdirSync(join(ROOT, group))) out.push(...load(join(ROOT, group, entry)));
  }
  out.push(...load(join(ROOT, 'conformance')), ...load(join(ROOT, 'bench')));
  return out;
}

function load(dir: string): Workspace[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    return [];
  }
  const manifest = JSON.parse(text) as { name: string } & Workspace['manifest'];
  return [{ name: manifest.name.replace(/^@normbridge\//, ''), dir, manifest }];
}

/** Non-test source files: under src/, not *.test.ts, not in test-support/ or node_modules. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) {
        if (entry !== 'node_modules' && entry !== 'test-support' && entry !== 'dist') walk(p);
      } else if (/\.(ts|mts|mjs|js)$/.test(entry) && !/\.test\.|\.bench\./.test(entry) && !entry.endsWith('.d.ts')) {
        out.push(p);
      }
    }
  };
  try {
    walk(join(dir, 'src'));
  } catch {
    // a package without src/ (e.g. a script-only example) has no source imports
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]@normbridge\/([a-z0-9-]+)(?:\/[^'"]*)?['"]/g;

/**
 * A runtime import of tfjs-core: `import … from`, `export … from`, a side-effect `import '…'` or
 * a dynamic `import('…')`, but not `import type` / `export type` (erased at build time).
 */
const TF_RUNTIME_IMPORT =
  /(?:\b(?:import|export)\s+(?!type\b)[^;'"]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]@tensorflow\/tfjs-core(?:\/[^'"]*)?['"]/g;

/** Adapters' non-test source files that load TF.js at runtime, as `adapter: file`. */
function adapterTfRuntimeImports(): string[] {
  const out: string[] = [];
  for (const w of workspaces()) {
    if (!ADAPTERS.includes(w.name)) continue;
    for (const file of sourceFiles(w.dir)) {
      if (TF_RUNTIME_IMPORT.test(readFileSync(file, 'utf8'))) out.push(`${w.name}: ${relative(ROOT, file)}`);
      TF_RUNTIME_IMPORT.lastIndex = 0;
    }
  }
  return out.sort();
}

/** Every breach of the rules, as `package: what (where)`. */
function violations(): string[] {
  const all = workspaces();
  const names = all.map((w) => w.name);
  const out: string[] = [];
  for (const w of all) {
    const allowed = new Set([...allowedFor(w.name, names), w.name]);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(w.manifest[field] ?? {})) {
        if (!dep.startsWith('@normbridge/')) continue;
        const short = dep.slice('@normbridge/'.length);
        if (!allowed.has(short)) out.push(`${w.name}: ${field} lists ${dep} (package.json)`);
      }
    }
    for (const file of sourceFiles(w.dir)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        if (!allowed.has(m[1]!)) out.push(`${w.name}: imports @normbridge/${m[1]} (${relative(ROOT, file)})`);
      }
    }
  }
  return [...new Set(out)].sort();
}

describe('import rules (ARCHITECTURE.md)', () => {
  it('finds the workspace packages it checks', () => {
    const names = workspaces().map((w) => w.name);
    for (const n of ['core', 'tfjs', 'onnx', 'engines', 'conformance', 'cli', ...ADAPTERS]) expect(names).toContain(n);
  });

  it('every package imports only the layers below it; no adapter imports an engine', () => {
    expect(violations()).toEqual([]);
  });

  it('no adapter loads @tensorflow/tfjs-core at runtime (type-only imports are fine)', () => {
    expect(adapterTfRuntimeImports()).toEqual([]);
  });
});

describe('the rule checker', () => {
  it('recognises the import forms it must catch', () => {
    const text = [
      "import { a } from '@normbridge/tfjs';",
      "import type { B } from \"@normbridge/onnx\";",
      "export * from '@normbridge/engines';",
      "const m = await import('@normbridge/conformance/browser-page');",
      "import '@normbridge/safetensors';",
    ].join('\n');
    expect([...text.matchAll(IMPORT)].map((m) => m[1])).toEqual(['tfjs', 'onnx', 'engines', 'conformance', 'safetensors']);
  });

  it('tells runtime imports of tfjs-core from type-only ones', () => {
    const runtime = [
      "import * as tf from '@tensorflow/tfjs-core';",
      "import { tensor, type Tensor } from \"@tensorflow/tfjs-core\";",
      "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
      "const tf = await import('@tensorflow/tfjs-core');",
      "export { tidy } from '@tensorflow/tfjs-core';",
      "import {\n  tensor,\n  tidy,\n} from '@tensorflow/tfjs-core';",
    ];
    const typeOnly = [
      "import type * as tf from '@tensorflow/tfjs-core';",
      "import type { Tensor } from '@tensorflow/tfjs-core';",
      "export type { Tensor } from '@tensorflow/tfjs-core';",
      "import { tensor } from '@tensorflow/tfjs-layers';",
    ];
    for (const line of runtime) expect([...line.matchAll(TF_RUNTIME_IMPORT)], line).toHaveLength(1);
    for (const line of typeOnly) expect([...line.matchAll(TF_RUNTIME_IMPORT)], line).toHaveLength(0);
  });

  it('allows nothing of ours in core and no engine in an adapter', () => {
    const all = ['core', 'frameworks', 'tfjs', 'onnx', 'engines', ...ADAPTERS];
    expect(allowedFor('core', all)).toEqual([]);
    for (const a of ADAPTERS) {
      expect(allowedFor(a, all)).not.toContain('tfjs');
      expect(allowedFor(a, all)).not.toContain('onnx');
      expect(allowedFor(a, all)).not.toContain('engines');
    }
    expect(allowedFor('frameworks', all)).toEqual(['core']);
  });
});
