import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { linen } from '@normbridge/flax';
import { BatchNormalization } from '@normbridge/keras';
import { BatchNorm } from '@normbridge/mlx';
import { createEngineByName } from '@normbridge/engines';
import { normbridgeMatchers } from '../matcher.js';

expect.extend(normbridgeMatchers);
const fixture = (p: string) => fileURLToPath(new URL(`../../../fixtures/${p}`, import.meta.url));

describe('toMatchFixture(path, { as }): a PyTorch capture against a port in another framework', () => {
  it('passes for ports configured as the translation says, the variance-estimator difference explained', async () => {
    await expect(new BatchNormalization({ epsilon: 1e-5, momentum: 0.9 })).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'keras' });
    await expect(new linen.BatchNorm({ epsilon: 1e-5, momentum: 0.9 })).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'flax-linen' });
    await expect(new BatchNorm(3)).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'mlx' });
  });

  it('runs on the layer\'s own engine, an asynchronous one included (ONNX Runtime)', async () => {
    const engine = await createEngineByName('ort-node');
    await expect(new BatchNormalization({ epsilon: 1e-5, momentum: 0.9, engine })).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'keras' });
    await expect(new BatchNorm(3, { engine })).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'mlx' });
    await expect(expect(new BatchNormalization({ engine })).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'keras' })).rejects.toThrow(/epsilon: the layer has 0\.001/);
  });

  it('fails for a Keras layer left at its default eps 1e-3 and momentum 0.99, naming both', async () => {
    await expect(expect(new BatchNormalization()).toMatchFixture(fixture('torch/bn2d_defaults'), { as: 'keras' })).rejects.toThrow(
      /epsilon: the layer has 0\.001, the port of torch\/bn2d_defaults needs 0\.00001[\s\S]*runningAverage/,
    );
  });

  it('fails when the target cannot express the source (a cumulative average in Flax), with the difference measured on the nearest momentum', async () => {
    await expect(expect(new linen.BatchNorm()).toMatchFixture(fixture('torch/bn1d_momentum_none'), { as: 'flax-linen' })).rejects.toThrow(
      /cannot-express[\s\S]*as the nearest it can express, momentum 1 [\s\S]*running_mean \d\.\de[-+]\d after 5 train step\(s\)[\s\S]*runningAverage/,
    );
  });
});
