import type { KernelConfig } from '@tensorflow/tfjs-core';
import { momentsConfig } from './Moments.js';
import { normalizeConfig } from './Normalize.js';
import { normalizeGradConfig } from './NormalizeGrad.js';

/**
 * The wasm backend's fused BatchNorm kernels: WebAssembly SIMD over the backend's own heap
 * when the module built from `wasm/batchnorm.c` is there (see wasm/simd.ts), else the same
 * typed-array loops as the cpu backend, run on views of that heap.
 */
export const wasmKernelConfigs: readonly KernelConfig[] = [momentsConfig, normalizeConfig, normalizeGradConfig];
