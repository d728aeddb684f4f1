import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar, type HostTensor } from '@normbridge/core';
import { writeSafetensorsFile } from '@normbridge/safetensors';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const SNIPPETS = fileURLToPath(new URL('./.doc-snippets/', import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'nb-readme-'));
afterAll(() => rm(work, { recursive: true, force: true }));

describe('README example', () => {
  it('runs as printed and normalises with the loaded running statistics', async () => {
    const text = await readFile(README, 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(text)?.[1];
    expect(code, 'the README has a ts example').toBeTruthy();
    // The example's checkpoint: what torch.save_file(bn.state_dict()) of a trained BatchNorm2d(64) holds.
    const C = 64;
    const stateFile = join(work, 'bn.safetensors');
    await writeSafetensorsFile(stateFile, {
      weight: hostTensor([C], Array.from({ length: C }, (_, i) => 1 + i / 64)),
      bias: hostTensor([C], Array.from({ length: C }, (_, i) => i / 128)),
      running_mean: hostTensor([C], Array.from({ length: C }, (_, i) => 0.5 - i / 64)),
      running_var: hostTensor([C], Array.from({ length: C }, (_, i) => 0.5 + i / 32)),
      num_batches_tracked: int64Scalar(100),
    });
    await mkdir(SNIPPETS, { recursive: true });
    const snippet = join(SNIPPETS, 'readme-example.ts');
    await writeFile(snippet, `${code!.replace("'bn.safetensors'", JSON.stringify(stateFile))}\nexport { bn, y };\n`);
    const { bn, y } = (await import(/* @vite-ignore */ snippet)) as { bn: { numBatchesTracked: number; training: boolean }; y: HostTensor };
    expect(y.shape).toEqual([8, 64, 32, 32]);
    expect(bn.training).toBe(false);
    expect(bn.numBatchesTracked).toBe(100);
    // Eval normalises each channel with the loaded statistics: y = (x - mean) / sqrt(var + eps) * w + b,
    // so for x ~ U(-1, 1) the mean of channel c is about (0 - mean_c) / sqrt(var_c + 1e-5) * w_c + b_c.
    const { data } = y;
    const per = 8 * 32 * 32;
    for (const c of [0, 31, 63]) {
      let s = 0;
      for (let n = 0; n < 8; n++) for (let k = 0; k < 1024; k++) s += data[n * C * 1024 + c * 1024 + k]!;
      const expected = ((0 - (0.5 - c / 64)) / Math.sqrt(0.5 + c / 32 + 1e-5)) * (1 + c / 64) + c / 128;
      expect(s / per).toBeCloseTo(expected, 1);
    }
  });
});
