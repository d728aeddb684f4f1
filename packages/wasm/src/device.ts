/**
 * What the kernel passes run on: the engine's memory, its allocator, the kernels instantiated
 * on it, and the threads that split a pass. One per engine.
 */
import type { HostTensor, MemoryBlocks } from '@normbridge/core';
import type { Heap } from './heap.js';
import type { KernelExports } from './kernels.js';
import type { ThreadPool } from './pool.js';
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
  /** Parts a pass over `b` is split into: one per thread, none below `minElementsPerThread` elements. */
  parts(b: MemoryBlocks): number;
  /** Runs a unit kernel over [0, units) in `parts` parts (the caller's thread alone without a pool). */
  run: ThreadPool['run'];
}

export function createDevice(
  memory: WebAssembly.Memory,
  heap: Heap,
  kernels: KernelExports,
  pool: ThreadPool | undefined,
  threads: number,
  minElementsPerThread: number,
): Device {
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
    parts: (b) => Math.max(1, Math.min(threads, units(b), Math.floor((b.outer * b.channels * b.inner) / minElementsPerThread))),
    run(kernel, count, parts, args) {
      if (pool) pool.run(kernel, count, parts, args);
      else (kernels[kernel] as (...a: number[]) => void)(...args(0, count, 0));
    },
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
