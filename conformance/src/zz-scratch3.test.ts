import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { loadFixture } from './fixture-load.js';
it('s3', async () => {
  const f = await loadFixture(fileURLToPath(new URL('../../fixtures/tfjs-layers/tfjs_defaults_rank4_trajectory', import.meta.url)));
  const s = f.manifest.steps[4]!;
  const x = f.tensors.get(s.input)! as any;
  const c = 10 % 4;
  const vals = Array.from(x.data as Float32Array).filter((_, i) => i % 4 === c);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const v = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
  console.log('channel', c, 'values', vals, 'mean', mean, 'var', v);
  console.log('state before', Object.entries(f.manifest.steps[3]!.state!).map(([k, n]) => [k, Array.from((f.tensors.get(n) as any).data)]));
});
