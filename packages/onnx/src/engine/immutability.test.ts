import { defineSpec, type HostTensor } from '@normbridge/core';
import type { Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { randomMask, randomTensor } from '../test-support/data.js';
import { createOrtEngine } from './engine.js';

// ORT's BatchNormalization kernel writes running statistics into its mean/var inputs' buffers;
// the engine must never hand it a caller's tensor there. Nothing passed in may change.
describe('inputs are never mutated', () => {
  for (const graph of ['auto', 'primitive'] as const) {
    for (const featureAxes of [[1], [-1]]) {
      it(`graph ${graph}, feature axes [${featureAxes}]`, async () => {
        const engine = await createOrtEngine({ graph });
        const spec = defineSpec({ featureAxes, masked: true });
        const shape = [4, 3, 5, 3];
        const host: Record<string, HostTensor> = {
          x: randomTensor(shape, 1),
          dy: randomTensor(shape, 2),
          scale: randomTensor([3], 3, 'float32', 1),
          bias: randomTensor([3], 4),
          runningMean: randomTensor([3], 5),
          runningVar: randomTensor([3], 6, 'float32', 2, 0.5),
          mask: randomMask([5, 3], 7),
        };
        const t = Object.fromEntries(Object.entries(host).map(([k, v]) => [k, engine.fromHost(v)])) as Record<string, Tensor>;
        const state = { scale: t.scale, bias: t.bias, runningMean: t.runningMean, runningVar: t.runningVar, numBatchesTracked: 0 };
        for (let i = 0; i < 2; i++) {
          await engine.train(spec, state, t.x!);
          await engine.train(spec, state, t.x!, { mask: t.mask });
          await engine.evaluate(spec, state, t.x!);
          await engine.vjp(spec, state, t.x!, t.dy!, 'train', { mask: t.mask });
        }
        for (const [k, v] of Object.entries(host)) expect(Array.from(t[k]!.data as Float32Array), k).toEqual(Array.from(v.data));
      });
    }
  }
});
