import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { runConformance } from './runner.js';
import { describeFailure } from './results.js';
const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));
const engines = (process.env.ENGINES ?? 'reference-f64').split(',') as any[];
it('scratch', async () => {
  for (const e of engines) {
    const t0 = Date.now();
    const r = await runConformance({ fixtureDirs: [FIXTURES], engines: [e], frameworks: process.env.FW ? process.env.FW.split(',') : undefined });
    const by = (s: string) => r.results.filter((x) => x.status === s);
    console.log(`${e}: pass ${by('pass').length}/${r.results.length} fail ${by('fail').length} n/a ${by('n/a').length} (${Date.now() - t0} ms) ${JSON.stringify(r.engines)}`);
    for (const f of by('fail')) console.log('  ' + describeFailure(f));
    for (const f of by('n/a')) console.log(`  n/a ${f.fixture}: ${f.reason}`);
    for (const f of r.results.filter((x: any) => x.widened)) console.log(`  widened ${f.fixture}: ${(f as any).widened}`);
  }
}, 600_000);
