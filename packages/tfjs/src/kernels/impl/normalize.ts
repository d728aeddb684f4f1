import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NormalizeAttrs } from '../kernel_names.js';
import { channelAffine, normalizeChannels } from '../loops/normalize.js';
import type { KernelStorage } from '../storage.js';

export interface NormalizeInputs {
  x?: TensorInfo;
  mean?: TensorInfo;
  variance?: TensorInfo;
  scale?: TensorInfo;
  bias?: TensorInfo;
}

/** `(x, mean, variance, scale?, bias?)` → y, with the typed-array loop. */
export function normalizeWithLoops(storage: KernelStorage, inputs: NormalizeInputs, attrs: NamedAttrMap): TensorInfo {
  const a = attrs as unknown as NormalizeAttrs;
  const x = inputs.x!;
  const y = storage.output(x.shape);
  const view = (t: TensorInfo | undefined) => t && storage.view(t);
  const affine = channelAffine(view(inputs.mean)!, view(inputs.variance)!, view(inputs.scale), view(inputs.bias), a.epsilon);
  normalizeChannels(storage.view(x), a, affine, storage.view(y));
  return y;
}
