import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MomentsAttrs } from '../kernel_names.js';
import { channelMoments } from '../loops/moments.js';
import type { KernelStorage } from '../storage.js';

/** `x` → `[mean, variance]`, each `[channels]`, with the typed-array loop. */
export function momentsWithLoops(storage: KernelStorage, inputs: { x?: TensorInfo }, attrs: NamedAttrMap): TensorInfo[] {
  const a = attrs as unknown as MomentsAttrs;
  const mean = storage.output([a.channels]);
  const variance = storage.output([a.channels]);
  channelMoments(storage.view(inputs.x!), a, a.algorithm, storage.view(mean), storage.view(variance));
  return [mean, variance];
}
