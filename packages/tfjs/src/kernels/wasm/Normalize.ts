import type { KernelConfig } from '@tensorflow/tfjs-core';
import { normalizeWithLoops } from '../impl/normalize.js';
import { BATCH_NORM_NORMALIZE, type NormalizeAttrs } from '../kernel_names.js';
import { wasmKernel } from './kernel.js';

export const normalizeConfig: KernelConfig = wasmKernel(BATCH_NORM_NORMALIZE, normalizeWithLoops, (simd, heap, { x, mean, variance, scale, bias }, attrs) => {
  const y = heap.output(x!.shape);
  simd.normalize(heap.at(x), attrs as unknown as NormalizeAttrs, heap.at(mean), heap.at(variance), heap.at(scale), heap.at(bias), heap.at(y));
  return y;
});
