import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { momentsWithLoops } from '../impl/moments.js';
import { BATCH_NORM_MOMENTS } from '../kernel_names.js';
import { cpuStorage } from '../storage.js';

export const momentsConfig: KernelConfig = {
  kernelName: BATCH_NORM_MOMENTS,
  backendName: 'cpu',
  kernelFunc: (({ inputs, backend, attrs }) => momentsWithLoops(cpuStorage(backend), inputs, attrs!)) as KernelFunc,
};
