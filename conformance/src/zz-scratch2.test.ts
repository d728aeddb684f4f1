import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { createEngineByName } from './engines.js';
import { loadFixtures, runCase } from './runner.js';
const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));
it('scratch2', async () => {
  const { fixtures } = await loadFixtures([FIXTURES], ['flax']);
  for (const e of ['tfjs-cpu', 'tfjs-wasm'] as const) {
    const engine = await createEngineByName(e);
    for (const f of fixtures.filter((f) => f.manifest.tags?.includes('oracle-limit'))) {
      const r = await runCase(f, engine);
      console.log(e, r.fixture, r.status);
      for (const c of r.comparisons.filter((c) => !c.ok)) console.log('   ', c.label, 'idx', c.worstIndex, c.actual, c.expected);
    }
  }
}, 600_000);
