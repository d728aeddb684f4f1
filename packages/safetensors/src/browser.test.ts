import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every module the browser entry reaches, following relative imports (type-only ones too). */
function reachable(entry: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visit = (file: string) => {
    if (out.has(file)) return;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]!);
    out.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(join(dirname(file), s.replace(/\.js$/, '.ts')));
  };
  visit(join(SRC, entry));
  return out;
}

describe('the browser entry', () => {
  it('reaches no Node built-in module', () => {
    const graph = reachable('browser.ts');
    expect(graph.size).toBeGreaterThan(10);
    const nodeImports = [...graph].flatMap(([file, specs]) => specs.filter((s) => s.startsWith('node:')).map((s) => `${file}: ${s}`));
    expect(nodeImports).toEqual([]);
  });

  it('converts in memory', async () => {
    const { parseSafetensors, serializeSafetensors, convertSafetensorsBuffer } = await import('./browser.js');
    const bytes = serializeSafetensors({
      'bn.running_mean': { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      'bn.running_var': { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) },
    });
    const { bytes: out } = await convertSafetensorsBuffer(bytes, { from: 'mlx', to: 'flax' });
    expect([...parseSafetensors(out).float32Sync('batch_stats/bn/var')]).toEqual([3, 4]);
  });
});
