import { describe, expect, it } from 'vitest';
import { compileKernels, instantiateKernels } from './kernels.js';
import { createThreadPool, singleThread, type ThreadPool } from './pool.js';

/** A pass that copies x into y (normalise with mean 0, factor 1, offset 0), so every chunk's work is visible. */
async function copyThrough(make: (memory: WebAssembly.Memory, module: WebAssembly.Module) => Promise<ThreadPool> | ThreadPool, shared: boolean) {
  const module = (await compileKernels(shared ? 'shared' : 'plain'))!;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, ...(shared ? { shared: true } : {}) });
  const pool = await make(memory, module);
  const rows = 1001;
  const channels = 3;
  const f32 = new Float32Array(memory.buffer);
  const [x, y, m, k, b] = [1024, 1024 + 4 * 4096, 1024 + 8 * 4096, 1024 + 8 * 4096 + 64, 1024 + 8 * 4096 + 128];
  for (let i = 0; i < rows * channels; i++) f32[x / 4 + i] = i + 1;
  f32.fill(1, k / 4, k / 4 + channels);
  pool.run({ kernel: 'bn_normalize_units', units: rows, chunks: 7, args: [x, y, 0, 0, channels, 1, m, k, b], u0: 2, u1: 3 });
  const out = new Float32Array(memory.buffer, y, rows * channels);
  await pool.close();
  return Array.from(out);
}

describe('thread pools', () => {
  const expected = Array.from({ length: 3003 }, (_, i) => i + 1);
  it('the calling thread alone runs every chunk of a job', async () => {
    expect(await copyThrough((memory, module) => singleThread(instantiateKernels(module, memory)), false)).toEqual(expected);
  });
  it('three threads claiming chunks cover every unit exactly once', async () => {
    expect(await copyThrough((memory, module) => createThreadPool(3, memory, module, instantiateKernels(module, memory)), true)).toEqual(expected);
  });
});
