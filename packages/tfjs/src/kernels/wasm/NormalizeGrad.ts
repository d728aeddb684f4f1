import type { KernelConfig } from '@tensorflow/tfjs-core';
import { normalizeGradWithLoops } from '../impl/normalize-grad.js';
import { BATCH_NORM_GRAD, type GradAttrs } from '../kernel_names.js';
import { wasmKernel } from './kernel.js';

export const normalizeGradConfig: KernelConfig = wasmKernel(BATCH_NORM_GRAD, normalizeGradWithLoops, (simd, heap, { x, dy, mean, variance, scale }, attrs) => {
  const a = attrs as unknown as GradAttrs;
  const dx = heap.output(x!.shape);
  const dScale = heap.output([a.channels]);
  const dBias = heap.output([a.channels]);
  simd.normalizeGrad(heap.at(x), heap.at(dy), a, heap.at(mean), heap.at(variance), heap.at(scale), heap.at(dx), heap.at(dScale), heap.at(dBias));
  return [dx, dScale, dBias];
});
