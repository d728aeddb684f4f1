import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { normalizeWithLoops } from '../impl/normalize.js';
import { BATCH_NORM_NORMALIZE } from '../kernel_names.js';
import { cpuStorage } from '../storage.js';

export const normalizeConfig: KernelConfig = {
  kernelName: BATCH_NORM_NORMALIZE,
  backendName: 'cpu',
  kernelFunc: (({ inputs, backend, attrs }) => normalizeWithLoops(cpuStorage(backend), inputs, attrs!)) as KernelFunc,
};
