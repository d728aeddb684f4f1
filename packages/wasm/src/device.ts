/**
 * What the kernel passes run on: the engine's memory, its allocator, the kernels instantiated
 * on it, and the threads that split a pass. One per engine.
 */
import type { HostTensor, MemoryBlocks } from '@normbridge/core';
import type { Heap } from './heap.js';
import type { KernelExports } from './kernels.js';
import type { Job, ThreadPool } from './pool.js';
import { allocateTensor, type WasmTensor } from './tensor.js';

/** Registers a tensor a call made, so that the call frees it if it fails (see `producing`). */
export type Keep = <U extends WasmTensor>(t: U) => U;

export interface Device {
  readonly memory: WebAssembly.Memory;
  readonly heap: Heap;
  readonly kernels: KernelExports;
  allocate(shape: readonly number[], dtype?: HostTensor['dtype']): WasmTensor;
  /** Runs `body` with `bytes` of scratch memory, freed afterwards whatever happens. */
  withScratch<R>(bytes: number, body: (at: number) => R): R;
  /** Units of a tensor the passes split: rows when inner = 1, else channel runs (see batchnorm.c). */
  units(b: MemoryBlocks): number;
  /**
   * Chunks a pass over `b` is cut into: about one per `chunkElements` elements, at most
   * MAX_CHUNKS, never more than its units. The thread count plays no part, so neither does it
   * in the per-chunk sums.
   */
  chunks(b: MemoryBlocks): number;
  /** Runs every chunk of a pass, on as many threads as the engine has. */
  run(job: Job): void;
}

/**
 * Most chunks a pass is cut into: each holds its own float64 sums (2 × channels doubles), zeroed
 * and folded per call, and beyond a few per thread finer chunks balance no better.
 */
export const MAX_CHUNKS = 32;

export function createDevice(memory: WebAssembly.Memory, heap: Heap, kernels: KernelExports, pool: ThreadPool, chunkElements: number): Device {
  const units = (b: MemoryBlocks) => (b.inner === 1 ? b.outer : b.outer * b.channels);
  return {
    memory,
    heap,
    kernels,
    allocate: (shape, dtype = 'float32') => allocateTensor(memory, heap, shape, dtype),
    withScratch(bytes, body) {
      const at = heap.alloc(bytes);
      try {
        return body(at);
      } finally {
        heap.free(at);
      }
    },
    units,
    chunks: (b) => Math.max(1, Math.min(MAX_CHUNKS, units(b), Math.floor((b.outer * b.channels * b.inner) / chunkElements))),
    run: (job) => pool.run(job),
  };
}

/** Runs `body`, disposing every tensor it kept if it throws: a failed call leaks nothing. */
export function producing<R>(body: (keep: Keep) => R): R {
  const made: WasmTensor[] = [];
  try {
    return body((t) => (made.push(t), t));
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}
