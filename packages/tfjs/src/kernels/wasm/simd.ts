import type { ChannelBlocks, MomentsAlgorithm, NormalizeAttrs } from '../kernel_names.js';
import type { WasmBackendLike } from '../storage.js';
import { ALGORITHM_CODE, compileKernels, instantiateKernels } from '@normbridge/wasm/kernels';

/** Bytes of scratch per channel each function needs (float64 accumulators and factors). */
const SCRATCH_BYTES_PER_CHANNEL = { moments: 3 * 8, normalize: 3 * 4, grad: 4 * 8 };

export interface SimdKernels {
  moments(x: number, blocks: ChannelBlocks, algorithm: MomentsAlgorithm, mean: number, variance: number): void;
  normalize(x: number, attrs: NormalizeAttrs, mean: number, variance: number, scale: number, bias: number, y: number): void;
  normalizeGrad(
    x: number, dy: number, attrs: NormalizeAttrs & { batchStatistics: boolean },
    mean: number, variance: number, scale: number, dx: number, dScale: number, dBias: number,
  ): void;
}

const instances = new WeakMap<object, SimdKernels>();

/**
 * The SIMD module, compiled once per process; undefined when it was not built (no clang on the
 * machine that built `@normbridge/wasm`) or the runtime lacks WebAssembly SIMD: the wasm
 * kernels then run the typed-array loops on the heap instead.
 */
export function compileSimdModule(): Promise<WebAssembly.Module | undefined> {
  return compileKernels('plain');
}

/** Instantiates the module against a wasm backend's own memory, so kernels work on tensors in place. */
export function attachSimd(backend: unknown, module: WebAssembly.Module): void {
  const b = backend as WasmBackendLike;
  const e = instantiateKernels(module, b.wasm.asm.memory);
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
