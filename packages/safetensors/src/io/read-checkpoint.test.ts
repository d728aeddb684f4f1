import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar } from '@normbridge/core';
import { writeSafetensorsFile } from './file-writer.js';
import { readCheckpoint } from './read-checkpoint.js';

const dir = await mkdtemp(join(tmpdir(), 'nb-read-checkpoint-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('readCheckpoint', () => {
  it('reads a state dict with PyTorch dtypes and an optional prefix', async () => {
    const path = join(dir, 'sd.safetensors');
    await writeSafetensorsFile(path, {
      'bn.weight': hostTensor([2], [1.5, 2]),
      'bn.running_var': hostTensor([2], [0.25, 1e-300 + 4], 'float64'),
      'bn.num_batches_tracked': int64Scalar(7),
      'fc.weight': hostTensor([1, 2], [3, 4]),
    });
    const all = await readCheckpoint(path);
    expect(Object.keys(all).sort()).toEqual(['bn.num_batches_tracked', 'bn.running_var', 'bn.weight', 'fc.weight']);
    const bn = await readCheckpoint(path, { prefix: 'bn.' });
    expect(Object.keys(bn).sort()).toEqual(['num_batches_tracked', 'running_var', 'weight']);
    expect(bn.num_batches_tracked).toEqual({ shape: [], data: BigInt64Array.of(7n), dtype: 'int64' });
    expect(bn.running_var!.dtype).toBe('float64');
    expect(Array.from(bn.weight!.data as Float32Array)).toEqual([1.5, 2]);
  });
});
