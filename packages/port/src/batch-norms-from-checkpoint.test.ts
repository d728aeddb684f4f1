import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar, transpose, type Engine, type HostTensor } from '@normbridge/core';
import { readCheckpoint, writeSafetensorsFile } from '@normbridge/safetensors';
import { createTfjsEngine } from '@normbridge/tfjs';
import { batchNormsFromCheckpoint, PortError, PORT_TARGETS, type PortTarget } from './index.js';

const TINY = fileURLToPath(new URL('../../../fixtures/checkpoints/tiny.safetensors', import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'nb-port-'));
afterAll(() => rm(work, { recursive: true, force: true }));
let engine: Engine<any>;
beforeAll(async () => {
  engine = await createTfjsEngine('cpu');
});

/** NCHW [2, 8, 3, 3] input with a per-channel offset. */
const X = hostTensor([2, 8, 3, 3], Array.from({ length: 144 }, (_, i) => Math.sin(i * 0.7) * 2 + (Math.floor(i / 9) % 8) * 0.1));

/** Eval of one BatchNorm, as each adapter is called; NCHW for PyTorch, NHWC for the others. */
function evaluate(target: PortTarget, layer: any, x: HostTensor): HostTensor {
  const nhwc = transpose(x, [0, 2, 3, 1]);
  switch (target) {
    case 'torch':
      layer.eval();
      return engine.toHost(layer.forward(engine.fromHost(x))) as HostTensor;
    case 'flax-linen':
      return transpose(engine.toHost(layer.module.apply(layer.variables, engine.fromHost(nhwc), { useRunningAverage: true, engine })) as HostTensor, [0, 3, 1, 2]);
    case 'mlx':
      layer.eval();
      return transpose(engine.toHost(layer.call(engine.fromHost(nhwc))) as HostTensor, [0, 3, 1, 2]);
    case 'keras':
      return transpose(engine.toHost(layer.apply(engine.fromHost(nhwc), { training: false })) as HostTensor, [0, 3, 1, 2]);
  }
}

/** (x - mean) / sqrt(var + eps) * weight + bias in float64, channels on axis 1. */
function expected(state: Record<string, any>, prefix: string, eps: number, x: HostTensor): Float64Array {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const v = (k: string) => state[`${prefix}${k}`].data as Float32Array;
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    out[i] = ((x.data[i]! - v('running_mean')[ch]!) / Math.sqrt(v('running_var')[ch]! + eps)) * v('weight')[ch]! + v('bias')[ch]!;
  }
  void n;
  return out;
}

function maxDiff(a: HostTensor, b: Float64Array): number {
  let m = 0;
  b.forEach((e, i) => (m = Math.max(m, Math.abs(a.data[i]! - e))));
  return m;
}

describe('batchNormsFromCheckpoint', () => {
  // tiny.safetensors was written by torch with eps 1e-2 and momentum 0.2 in its metadata.
  const MOMENTUM: Record<PortTarget, number> = { torch: 0.2, 'flax-linen': 0.8, mlx: 0.2, keras: 0.8 };

  it.each(PORT_TARGETS)('builds the torch checkpoint\'s BatchNorm as %s with eps and momentum from the metadata', async (target) => {
    const { layers, configs } = await batchNormsFromCheckpoint(TINY, { as: target, engine });
    expect([...layers.keys()]).toEqual(['bn']);
    expect(configs.get('bn')).toEqual({ epsilon: 0.01, momentum: MOMENTUM[target], origin: 'metadata' });
    const layer = layers.get('bn') as any;
    const eps = target === 'flax-linen' ? layer.module.epsilon : target === 'keras' ? layer.epsilon : layer.eps;
    expect(eps).toBe(0.01);
    const y = evaluate(target, layer, X);
    expect(maxDiff(y, expected(await readCheckpoint(TINY), 'bn.', 0.01, X))).toBeLessThan(1e-5);
  });

  it('keys layers by module path in the target\'s spelling and carries the batch counter into PyTorch', async () => {
    const { layers } = await batchNormsFromCheckpoint(TINY, { as: 'flax-linen', engine, mapPath: (p) => ['block', ...p] });
    expect([...layers.keys()]).toEqual(['block/bn']);
    const torch = (await batchNormsFromCheckpoint(TINY, { as: 'torch', engine })).layers.get('bn')!;
    expect(torch.numBatchesTracked).toBe(5);
  });

  describe('a checkpoint without eps/momentum metadata', () => {
    let file: string;
    beforeAll(async () => {
      file = join(work, 'plain.safetensors');
      const C = 3;
      await writeSafetensorsFile(file, {
        'layer1.0.bn1.weight': hostTensor([C], [1, 2, 3]),
        'layer1.0.bn1.bias': hostTensor([C], [0, 0.5, -0.5]),
        'layer1.0.bn1.running_mean': hostTensor([C], [0.1, 0.2, 0.3]),
        'layer1.0.bn1.running_var': hostTensor([C], [1, 0.5, 0.25]),
        'layer1.0.bn1.num_batches_tracked': int64Scalar(7),
      });
    });

    it('gets the defaults where source and target share them (PyTorch → MLX: eps 1e-5, momentum 0.1)', async () => {
      const { configs } = await batchNormsFromCheckpoint(file, { as: 'mlx', engine });
      expect(configs.get('layer1.0.bn1')).toEqual({ epsilon: 1e-5, momentum: 0.1, origin: 'assumed' });
    });

    it('is refused with a typed error naming the layer and fields where the defaults differ (PyTorch → Keras)', async () => {
      const err = await batchNormsFromCheckpoint(file, { as: 'keras', engine }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortError);
      expect((err as PortError).code).toBe('batchnorm-config-unknown');
      expect((err as PortError).layers).toEqual(['layer1/0/bn1']);
      expect((err as PortError).message).toMatch(/eps \(torch 0\.00001, keras 0\.001\)/);
      expect((err as PortError).message).toMatch(/momentum/);
    });

    it('takes them explicitly, in the source\'s convention, and translates the momentum', async () => {
      const { configs, layers } = await batchNormsFromCheckpoint(file, { as: 'keras', engine, assume: { epsilon: 1e-5, momentum: 0.1 } });
      expect(configs.get('layer1/0/bn1')).toEqual({ epsilon: 1e-5, momentum: 0.9, origin: 'assumed' });
      expect(layers.get('layer1/0/bn1')!.epsilon).toBe(1e-5);
    });
  });

  it('refuses a scale without a bias for PyTorch and MLX (one affine switch), naming the layer, and builds it for Keras', async () => {
    const file = join(work, 'no-bias.safetensors');
    const C = 2;
    await writeSafetensorsFile(
      file,
      {
        'params/bn/scale': hostTensor([C], [2, 3]),
        'batch_stats/bn/mean': hostTensor([C], [0.1, 0.2]),
        'batch_stats/bn/var': hostTensor([C], [1, 0.5]),
      },
      { metadata: { normbridge: JSON.stringify({ version: 1, framework: 'flax', batchNorm: { bn: { epsilon: 1e-5, momentum: 0.9 } } }) } },
    );
    for (const as of ['torch', 'mlx'] as const) {
      const err = await batchNormsFromCheckpoint(file, { as, engine, from: 'flax' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortError);
      expect((err as PortError).code).toBe('affine-unsupported');
      expect((err as PortError).layers).toEqual(['bn']);
      expect((err as PortError).message).toMatch(new RegExp(`scale without a bias or the reverse; ${as} has both \\(affine\\) or neither`));
    }
    const keras = (await batchNormsFromCheckpoint(file, { as: 'keras', engine, from: 'flax' })).layers.get('bn')!;
    expect(keras.weights.map((w) => w.name)).toEqual(['gamma', 'moving_mean', 'moving_variance']);
  });

  it('says when it cannot tell the source framework', async () => {
    const file = join(work, 'anon.safetensors');
    await writeSafetensorsFile(file, { w: hostTensor([2], [1, 2]) });
    await expect(batchNormsFromCheckpoint(file, { as: 'torch', engine })).rejects.toMatchObject({ code: 'unknown-source-framework' });
  });
});
