import type { ChannelBlocks, MomentsAlgorithm, NormalizeAttrs } from '../kernel_names.js';
import type { WasmBackendLike } from '../storage.js';
import { importNodeBuiltin, isNode } from '../../node-runtime.js';

/** The exports of `wasm/batchnorm.c` (pointers are byte offsets into tfjs's heap). */
interface SimdExports {
  bn_moments(x: number, outer: number, channels: number, inner: number, algorithm: number, mean: number, variance: number, scratch: number): void;
  bn_normalize(x: number, outer: number, channels: number, inner: number, epsilon: number, mean: number, variance: number, scale: number, bias: number, y: number, scratch: number): void;
  bn_grad(x: number, dy: number, outer: number, channels: number, inner: number, epsilon: number, batch: number, mean: number, variance: number, scale: number, dx: number, dScale: number, dBias: number, scratch: number): void;
}

/** Bytes of scratch per channel each function needs (float64 accumulators and factors). */
const SCRATCH_BYTES_PER_CHANNEL = { moments: 3 * 8, normalize: 3 * 4, grad: 5 * 8 };
const ALGORITHM_CODE: Record<MomentsAlgorithm, number> = { 'two-pass': 0, 'one-pass-unclamped': 1, 'one-pass-clamped': 2 };

export interface SimdKernels {
  moments(x: number, blocks: ChannelBlocks, algorithm: MomentsAlgorithm, mean: number, variance: number): void;
  normalize(x: number, attrs: NormalizeAttrs, mean: number, variance: number, scale: number, bias: number, y: number): void;
  normalizeGrad(
    x: number, dy: number, attrs: NormalizeAttrs & { batchStatistics: boolean },
    mean: number, variance: number, scale: number, dx: number, dScale: number, dBias: number,
  ): void;
}

/** Where the build (scripts/build-wasm.mjs) writes the module, relative to this file in src/ or dist/. */
const MODULE_URL = new URL('../../../wasm-build/batchnorm-simd.wasm', import.meta.url);

let compiled: Promise<WebAssembly.Module | undefined> | undefined;
const instances = new WeakMap<object, SimdKernels>();

/**
 * Compiles the SIMD module once per process. Resolves to undefined when it was not built
 * (no clang on the machine that built the package) or the runtime lacks WebAssembly SIMD;
 * the wasm kernels then run the typed-array loops on the heap instead.
 */
export function compileSimdModule(): Promise<WebAssembly.Module | undefined> {
  compiled ??= (async () => {
    try {
      const bytes = await readModuleBytes();
      return bytes === undefined ? undefined : await WebAssembly.compile(bytes);
    } catch {
      return undefined;
    }
  })();
  return compiled;
}

async function readModuleBytes(): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (isNode()) {
    const fs = await importNodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(MODULE_URL)) as Uint8Array<ArrayBuffer>;
    } catch {
      return undefined;
    }
  }
  const response = await fetch(MODULE_URL);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : undefined;
}

/** Instantiates the module against a wasm backend's own memory, so kernels work on tensors in place. */
export function attachSimd(backend: unknown, module: WebAssembly.Module): void {
  const b = backend as WasmBackendLike;
  const instance = new WebAssembly.Instance(module, { env: { memory: b.wasm.asm.memory } });
  const e = instance.exports as unknown as SimdExports;
  const withScratch = (bytes: number, run: (scratch: number) => void) => {
    const scratch = b.wasm._malloc(Math.max(bytes, 8));
    try {
      run(scratch);
    } finally {
      b.wasm._free(scratch);
    }
  };
  instances.set(backend as object, {
    moments(x, { outer, channels, inner }, algorithm, mean, variance) {
      withScratch(channels * SCRATCH_BYTES_PER_CHANNEL.moments, (s) =>
        e.bn_moments(x, outer, channels, inner, ALGORITHM_CODE[algorithm], mean, variance, s),
      );
    },
    normalize(x, { outer, channels, inner, epsilon }, mean, variance, scale, bias, y) {
      withScratch(channels * SCRATCH_BYTES_PER_CHANNEL.normalize, (s) =>
        e.bn_normalize(x, outer, channels, inner, epsilon, mean, variance, scale, bias, y, s),
      );
    },
    normalizeGrad(x, dy, { outer, channels, inner, epsilon, batchStatistics }, mean, variance, scale, dx, dScale, dBias) {
      withScratch(channels * SCRATCH_BYTES_PER_CHANNEL.grad, (s) =>
        e.bn_grad(x, dy, outer, channels, inner, epsilon, batchStatistics ? 1 : 0, mean, variance, scale, dx, dScale, dBias, s),
      );
    },
  });
}

/** The SIMD kernels attached to this backend instance, if any. */
export function simdKernels(backend: unknown): SimdKernels | undefined {
  return instances.get(backend as object);
}
