import type { KernelConfig } from '@tensorflow/tfjs-core';
import { momentsConfig } from './Moments.js';
import { normalizeConfig } from './Normalize.js';
import { normalizeGradConfig } from './NormalizeGrad.js';

/** The cpu backend's fused BatchNorm kernels: plain typed-array loops. */
export const cpuKernelConfigs: readonly KernelConfig[] = [momentsConfig, normalizeConfig, normalizeGradConfig];
