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

/**
 * Per-channel sums over rows 1..rows (bn_sums, one-pass, so no shift), one set per chunk, folded
 * here: a chunk run twice, or not at all, changes the total.
 */
async function sumsOverChunks(threads: number, chunks: number, jobs: number): Promise<number[][]> {
  const module = (await compileKernels('shared'))!;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, shared: true });
  const pool = await createThreadPool(threads, memory, module, instantiateKernels(module, memory));
  const rows = 1001;
  const channels = 3;
  const [x, shift, sums] = [1024, 1024 + 4 * 4096, 1024 + 4 * 4096 + 64];
  const f32 = new Float32Array(memory.buffer);
  for (let i = 0; i < rows * channels; i++) f32[x / 4 + i] = Math.floor(i / channels) + 1;
  const pair = 2 * channels * 8;
  const totals: number[][] = [];
  try {
    for (let j = 0; j < jobs; j++) {
      const f64 = new Float64Array(memory.buffer, sums, 2 * channels * chunks).fill(0);
      pool.run({ kernel: 'bn_sums', units: rows, chunks, args: [x, 0, 0, channels, 1, 1, shift, sums, sums + channels * 8], u0: 1, u1: 2, perChunk: [[7, pair], [8, pair]] });
      totals.push(Array.from({ length: channels }, (_, c) => Array.from({ length: chunks }, (_, p) => f64[p * 2 * channels + c]!).reduce((a, b) => a + b, 0)));
    }
  } finally {
    await pool.close();
  }
  return totals;
}

describe('thread pools', () => {
  const expected = Array.from({ length: 3003 }, (_, i) => i + 1);
  it('the calling thread alone runs every chunk of a job', async () => {
    expect(await copyThrough((memory, module) => singleThread(instantiateKernels(module, memory)), false)).toEqual(expected);
  });
  it.each([
    { threads: 2, chunks: 32 },
    { threads: 3, chunks: 7 },
    { threads: 3, chunks: 2 },
  ])('$threads threads run each of $chunks chunks exactly once, job after job (own share first, then the rest)', async ({ threads, chunks }) => {
    const sum = (1001 * 1002) / 2;
    expect(await sumsOverChunks(threads, chunks, 40)).toEqual(Array.from({ length: 40 }, () => [sum, sum, sum]));
  });
  it('three threads claiming chunks cover every unit exactly once', async () => {
    expect(await copyThrough((memory, module) => createThreadPool(3, memory, module, instantiateKernels(module, memory)), true)).toEqual(expected);
  });
});
