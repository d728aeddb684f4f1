/**
 * The compiled BatchNorm kernels of `kernels/batchnorm.c`, for every user of them: tfjs's wasm
 * backend (the `plain` module, instantiated against tfjs's own heap) and the nb-wasm engine
 * (`plain` on one thread, `shared` on a shared memory with worker threads). Pointers are byte
 * offsets into the imported memory; 0 stands for an absent optional tensor.
 */
import { importNodeBuiltin, isNode } from '@normbridge/core';

/** The exports of `kernels/batchnorm.c`; see the C source for each one's contract. */
export interface KernelExports {
  // Whole tensors, one thread.
  bn_moments(x: number, outer: number, channels: number, inner: number, algorithm: number, mean: number, variance: number, scratch: number): void;
  bn_normalize(x: number, outer: number, channels: number, inner: number, epsilon: number, mean: number, variance: number, scale: number, bias: number, y: number, scratch: number): void;
  bn_grad(x: number, dy: number, outer: number, channels: number, inner: number, epsilon: number, batch: number, mean: number, variance: number, scale: number, dx: number, dScale: number, dBias: number, scratch: number): void;
  // Ranges of units [u0, u1) and per-channel steps, for splitting one tensor over threads.
  bn_shift(x: number, channels: number, inner: number, algorithm: number, empty: number, shift: number): void;
  bn_sums(x: number, u0: number, u1: number, channels: number, inner: number, algorithm: number, shift: number, sum: number, sq: number): void;
  bn_finalize_moments(channels: number, n: number, algorithm: number, parts: number, shift: number, sums: number, mean: number, variance: number, mean64: number, var64: number): void;
  bn_normalize_factors(channels: number, epsilon: number, mean: number, variance: number, scale: number, bias: number, m: number, k: number, b: number): void;
  bn_normalize_units(x: number, y: number, u0: number, u1: number, channels: number, inner: number, m: number, k: number, b: number): void;
  bn_grad_sums(x: number, dy: number, u0: number, u1: number, channels: number, inner: number, m: number, sdy: number, sdx: number): void;
  bn_grad_factors(channels: number, n: number, epsilon: number, batch: number, variance: number, scale: number, parts: number, sums: number, dScale: number, dBias: number, k: number, c0: number, c1: number): void;
  bn_grad_dx(x: number, dy: number, dx: number, u0: number, u1: number, channels: number, inner: number, m: number, k: number, c0: number, c1: number): void;
}

/** The unit-range functions worker threads may be asked to run. */
export const UNIT_KERNELS = ['bn_sums', 'bn_normalize_units', 'bn_grad_sums', 'bn_grad_dx'] as const;
export type UnitKernel = (typeof UNIT_KERNELS)[number];

/** `plain` imports an ordinary memory; `shared` a shared one (threads). */
export type KernelVariant = 'plain' | 'shared';

/** The spec's `varianceAlgorithm` as the kernels number it. */
export const ALGORITHM_CODE = { 'two-pass': 0, 'one-pass-unclamped': 1, 'one-pass-clamped': 2 } as const;

/**
 * Largest shared memory the `shared` module accepts (its declared maximum, set by
 * scripts/build-wasm.mjs): the kernels index with 32-bit signed offsets, so no byte offset may
 * reach 2^31.
 */
export const SHARED_MAX_MEMORY_BYTES = 2 ** 31;

/** Where the build (scripts/build-wasm.mjs) writes each module, relative to this file in src/ or dist/. */
const MODULE_URLS: Record<KernelVariant, URL> = {
  plain: new URL('../wasm-build/batchnorm-simd.wasm', import.meta.url),
  shared: new URL('../wasm-build/batchnorm-simd-shared.wasm', import.meta.url),
};

const compiled = new Map<KernelVariant, Promise<WebAssembly.Module | undefined>>();

/**
 * Compiles a kernel module once per process. Resolves to undefined when it was not built (no
 * clang on the machine that built the package) or the runtime cannot compile it (no
 * WebAssembly SIMD; for `shared`, no threads proposal).
 */
export function compileKernels(variant: KernelVariant): Promise<WebAssembly.Module | undefined> {
  let module = compiled.get(variant);
  if (module === undefined) {
    module = (async () => {
      try {
        const bytes = await readModuleBytes(MODULE_URLS[variant]);
        return bytes === undefined ? undefined : await WebAssembly.compile(bytes);
      } catch {
        return undefined;
      }
    })();
    compiled.set(variant, module);
  }
  return module;
}

/** Where a variant's module file is (built by the package build, not committed). */
export function kernelModuleUrl(variant: KernelVariant): URL {
  return MODULE_URLS[variant];
}

async function readModuleBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (isNode()) {
    const fs = await importNodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(url)) as Uint8Array<ArrayBuffer>;
    } catch {
      return undefined;
    }
  }
  const response = await fetch(url);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : undefined;
}

/** Instantiates a compiled kernel module against a memory (its exports work on that memory in place). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
}
