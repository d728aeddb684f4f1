import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { normalizeWithLoops } from '../impl/normalize.js';
import { BATCH_NORM_NORMALIZE, type NormalizeAttrs } from '../kernel_names.js';
import { wasmStorage } from '../storage.js';
import { simdKernels } from './simd.js';

export const normalizeConfig: KernelConfig = {
  kernelName: BATCH_NORM_NORMALIZE,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }) => {
    const storage = wasmStorage(backend);
    const simd = simdKernels(backend);
    if (simd === undefined) return normalizeWithLoops(storage, inputs, attrs!);
    const { x, mean, variance, scale, bias } = inputs;
    const y = storage.output(x!.shape);
    const at = (t: typeof x) => (t === undefined ? 0 : storage.offset(t));
    simd.normalize(at(x), attrs as unknown as NormalizeAttrs, at(mean), at(variance), at(scale), at(bias), at(y));
    return y;
  }) as KernelFunc,
};
