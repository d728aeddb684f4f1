import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { normalizeGradWithLoops } from '../impl/normalize-grad.js';
import { BATCH_NORM_GRAD, type GradAttrs } from '../kernel_names.js';
import { wasmStorage } from '../storage.js';
import { simdKernels } from './simd.js';

export const normalizeGradConfig: KernelConfig = {
  kernelName: BATCH_NORM_GRAD,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }) => {
    const storage = wasmStorage(backend);
    const simd = simdKernels(backend);
    if (simd === undefined) return normalizeGradWithLoops(storage, inputs, attrs!);
    const a = attrs as unknown as GradAttrs;
    const { x, dy, mean, variance, scale } = inputs;
    const dx = storage.output(x!.shape);
    const dScale = storage.output([a.channels]);
    const dBias = storage.output([a.channels]);
    const at = (t: typeof x) => (t === undefined ? 0 : storage.offset(t));
    simd.normalizeGrad(at(x), at(dy), a, at(mean), at(variance), at(scale), at(dx), at(dScale), at(dBias));
    return [dx, dScale, dBias];
  }) as KernelFunc,
};
