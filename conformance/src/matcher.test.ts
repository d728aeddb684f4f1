import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, BatchNorm2d } from '@normbridge/torch';
import { BatchNorm } from '@normbridge/mlx';
import { linen, nnx } from '@normbridge/flax';
import { normbridgeMatchers } from './matcher.js';

expect.extend(normbridgeMatchers);
const fixture = (p: string) => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));

describe('toMatchFixture', () => {
  it('passes for a user layer built like the fixture', async () => {
    await expect(new BatchNorm2d(3)).toMatchFixture(fixture('torch/bn2d_defaults'));
    await expect(new BatchNorm(4, { version: '0.32.1' })).toMatchFixture(fixture('mlx/mlx_0.32.1_published_2d'));
  });

  it('Flax: an NNX BatchNorm and a linen BatchNorm built like the fixture match (gradients included)', async () => {
    await expect(new nnx.BatchNorm(4, { rngs: new nnx.Rngs(0) })).toMatchFixture(fixture('flax-nnx/nnx_defaults'));
    await expect(new linen.BatchNorm()).toMatchFixture(fixture('flax-linen/linen_defaults'));
    await expect(new linen.BatchNorm({ axis: [1, 2], momentum: 0.9 })).toMatchFixture(fixture('flax-linen/linen_multi_axis_features'));
  });

  it('Flax: a layer built differently fails, naming the variable', async () => {
    await expect(expect(new nnx.BatchNorm(4, { momentum: 0.9, rngs: new nnx.Rngs(0) })).toMatchFixture(fixture('flax-nnx/nnx_defaults'))).rejects.toThrow(
      /FAIL flax-nnx\/nnx_defaults .*step 0 \(train\) state (mean|var): worst element/,
    );
    // momentum 0.9 instead of linen's default 0.99: the running averages move ten times faster.
    await expect(expect(new linen.BatchNorm({ momentum: 0.9 })).toMatchFixture(fixture('flax-linen/linen_defaults'))).rejects.toThrow(/batch_stats\/(mean|var)/);
  });

  it('fails, naming step, tensor and element, for a layer built differently', async () => {
    const wrongMomentum = new BatchNorm2d(3, { momentum: 0.9 });
    await expect(expect(wrongMomentum).toMatchFixture(fixture('torch/bn2d_defaults'))).rejects.toThrow(
      /FAIL torch\/bn2d_defaults .*step \d+ \(train\) state running_mean: worst element \[\d+\]/,
    );
    await expect(expect(new BatchNorm(4, { version: '0.32.0' })).toMatchFixture(fixture('mlx/mlx_0.32.1_published_2d'))).rejects.toThrow(/running_var/);
  });

  it('torch: the version profile matters where torch 1.13 and 2.13 differ (eps = 0 in training)', async () => {
    await expect(new BatchNorm2d(2, { eps: 0, version: '1.13' })).toMatchFixture(fixture('torch/bn2d_eps_0'));
    await expect(new BatchNorm2d(2, { eps: 0 })).toMatchFixture(fixture('torch/torch2.13_bn2d_eps_0'));
    await expect(expect(new BatchNorm2d(2, { eps: 0, version: '1.13' })).toMatchFixture(fixture('torch/torch2.13_bn2d_eps_0'))).rejects.toThrow(
      /step 0 \(train\)/,
    );
    await expect(expect(new BatchNorm2d(2, { eps: 0 })).toMatchFixture(fixture('torch/bn2d_eps_0'))).rejects.toThrow(/ValueError/);
  });

  it('refuses a layer of another class', async () => {
    await expect(expect(new BatchNorm1d(3)).toMatchFixture(fixture('torch/bn2d_defaults'))).rejects.toThrow(/does not apply.*a torch\.nn\.BatchNorm2d/);
    await expect(expect(new linen.BatchNorm()).toMatchFixture(fixture('flax-nnx/nnx_defaults'))).rejects.toThrow(/does not apply.*flax\.nnx\.BatchNorm/);
    await expect(expect(new nnx.BatchNorm(4, { rngs: new nnx.Rngs(0) })).toMatchFixture(fixture('flax-linen/linen_defaults'))).rejects.toThrow(
      /does not apply.*a flax\.linen\.BatchNorm/,
    );
    await expect(expect(new BatchNorm2d(4)).toMatchFixture(fixture('mlx/mlx_0.32.1_published_2d'))).rejects.toThrow(/does not apply.*an mlx\.nn\.BatchNorm/);
  });
});
