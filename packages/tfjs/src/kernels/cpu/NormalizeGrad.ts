import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { normalizeGradWithLoops } from '../impl/normalize-grad.js';
import { BATCH_NORM_GRAD } from '../kernel_names.js';
import { cpuStorage } from '../storage.js';

export const normalizeGradConfig: KernelConfig = {
  kernelName: BATCH_NORM_GRAD,
  backendName: 'cpu',
  kernelFunc: (({ inputs, backend, attrs }) => normalizeGradWithLoops(cpuStorage(backend), inputs, attrs!)) as KernelFunc,
};
