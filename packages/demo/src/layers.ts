import { toHostAsync, type CheckpointValue, type Engine, type HostTensor } from '@normbridge/core';
import { keras, torch } from '@normbridge/frameworks';
import { BatchNormalization } from '@normbridge/keras';
import { BatchNorm2d } from '@normbridge/torch';
import type { LayerName } from './inputs.js';

/** A framework-shaped layer behind one small interface: load, step, read its state. */
export interface DemoLayer {
  readonly channels: number;
  step(x: HostTensor, mode: 'train' | 'eval'): Promise<{ output: HostTensor; state: Record<string, HostTensor> }>;
  dispose(): void;
}

/** Each layer's float variables, named and ordered by its framework profile. */
const names = (p: { params: readonly { name: string }[]; stats: readonly { name: string }[] }) => [...p.params, ...p.stats].map((v) => v.name);
const TORCH_KEYS = names(torch);
const KERAS_KEYS = names(keras);

/**
 * The checkpoint's tensors for a layer, found by their framework names (a prefix such as
 * `bn1.` is allowed: the first layer that has them all is used).
 */
export function pickTensors(checkpoint: ReadonlyMap<string, CheckpointValue>, keys: readonly string[]): Record<string, CheckpointValue> {
  const prefixes = [...checkpoint.keys()].filter((k) => k.endsWith(keys[0]!)).map((k) => k.slice(0, k.length - keys[0]!.length));
  for (const p of prefixes.sort()) {
    if (keys.every((k) => checkpoint.has(p + k))) return Object.fromEntries(keys.map((k) => [k, checkpoint.get(p + k)!]));
  }
  throw new Error(`the checkpoint has no layer with ${keys.join(', ')} (names may carry a prefix such as "bn1.")`);
}

export function createDemoLayer(name: LayerName, checkpoint: ReadonlyMap<string, CheckpointValue>, engine: Engine<any>): DemoLayer {
  if (name === 'torch.nn.BatchNorm2d') {
    const dict = pickTensors(checkpoint, TORCH_KEYS);
    const channels = dict[TORCH_KEYS[0]!]!.shape[0]!;
    const bn = new BatchNorm2d<any>(channels, { engine });
    bn.loadStateDict(dict, { strict: false });
    return {
      channels,
      async step(x, mode) {
        bn.train(mode === 'train');
        const xt = engine.fromHost(x);
        const y = await bn.forwardAsync(xt);
        const output = await toHostAsync(engine, y);
        engine.dispose(xt, y);
        const state = Object.fromEntries(Object.entries(await bn.stateDictAsync()).filter(([, v]) => v.dtype !== 'int64')) as Record<string, HostTensor>;
        return { output, state };
      },
      dispose: () => bn.dispose(),
    };
  }
  const weights = pickTensors(checkpoint, KERAS_KEYS);
  const channels = weights[KERAS_KEYS[0]!]!.shape[0]!;
  const bn = new BatchNormalization<any>({ engine });
  return {
    channels,
    async step(x, mode) {
      if (!bn.built) {
        bn.build(x.shape);
        bn.setWeights(KERAS_KEYS.map((k) => weights[k] as HostTensor));
      }
      const xt = engine.fromHost(x);
      const y = await bn.applyAsync(xt, { training: mode === 'train' });
      const output = await toHostAsync(engine, y);
      engine.dispose(xt, y);
      const values = await bn.getWeightsAsync();
      return { output, state: Object.fromEntries(KERAS_KEYS.map((k, i) => [k, values[i]!])) };
    },
    dispose: () => bn.dispose(),
  };
}
