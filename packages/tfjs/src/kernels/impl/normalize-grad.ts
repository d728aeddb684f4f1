import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { GradAttrs } from '../kernel_names.js';
import { normalizeGradChannels } from '../loops/normalize-grad.js';
import type { KernelStorage } from '../storage.js';
import type { NormalizeInputs } from './normalize.js';

export interface GradInputs extends NormalizeInputs {
  dy?: TensorInfo;
}

/** `(x, dy, mean, variance, scale?)` → `[dx, dScale, dBias]`, with the typed-array loops. */
export function normalizeGradWithLoops(storage: KernelStorage, inputs: GradInputs, attrs: NamedAttrMap): TensorInfo[] {
  const a = attrs as unknown as GradAttrs;
  const x = inputs.x!;
  const dx = storage.output(x.shape);
  const dScale = storage.output([a.channels]);
  const dBias = storage.output([a.channels]);
  const view = (t: TensorInfo) => storage.view(t);
  normalizeGradChannels(
    view(x),
    view(inputs.dy!),
    a,
    view(inputs.mean!),
    view(inputs.variance!),
    inputs.scale && view(inputs.scale),
    a.epsilon,
    a.batchStatistics,
    { dx: view(dx), dScale: view(dScale), dBias: view(dBias) },
  );
  return [dx, dScale, dBias];
}
