import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { momentsWithLoops } from '../impl/moments.js';
import { BATCH_NORM_MOMENTS, type MomentsAttrs } from '../kernel_names.js';
import { wasmStorage } from '../storage.js';
import { simdKernels } from './simd.js';

export const momentsConfig: KernelConfig = {
  kernelName: BATCH_NORM_MOMENTS,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }) => {
    const storage = wasmStorage(backend);
    const simd = simdKernels(backend);
    if (simd === undefined) return momentsWithLoops(storage, inputs, attrs!);
    const a = attrs as unknown as MomentsAttrs;
    const mean = storage.output([a.channels]);
    const variance = storage.output([a.channels]);
    simd.moments(storage.offset(inputs.x!), a, a.algorithm, storage.offset(mean), storage.offset(variance));
    return [mean, variance];
  }) as KernelFunc,
};
