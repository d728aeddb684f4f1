/**
 * A converted checkpoint must compute what PyTorch computed: the fixtures carry PyTorch's eval
 * outputs, and each converted file is run through a float64 NHWC model whose BatchNorm is
 * @normbridge/core's reference, with the eps found in the converted file's metadata.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostTensor } from '@normbridge/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, type SafetensorsBuffer } from '../io/memory.js';
import { nchwToNhwc, nhwcWeights, resnet18Forward, tinyForward, type NhwcWeights } from '../test-support/nhwc-model.js';
import { FIXTURES } from '../test-support/raw.js';
import { convertSafetensorsBuffer } from './convert-buffer.js';
import { FRAMEWORKS, type Framework } from './frameworks/index.js';

async function fixture(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(FIXTURES, name)));
}

function inputOf(expected: SafetensorsBuffer): HostTensor {
  const info = expected.info('input');
  return nchwToNhwc({ shape: [...info.shape], data: Float64Array.from(expected.float32Sync('input')), dtype: 'float64' });
}

/** Largest |a - b| relative to max(1, |b|). */
function maxRelativeError(actual: HostTensor, expected: Float32Array): number {
  let worst = 0;
  expected.forEach((e, i) => (worst = Math.max(worst, Math.abs(actual.data[i]! - e) / Math.max(1, Math.abs(e)))));
  return worst;
}

async function converted(bytes: Uint8Array, to: Framework): Promise<SafetensorsBuffer> {
  if (to === 'torch') return parseSafetensors(bytes);
  const { bytes: out, report } = await convertSafetensorsBuffer(bytes, { from: 'torch', to });
  expect(report.ok).toBe(true);
  return parseSafetensors(out);
}

describe('inference with converted checkpoints matches PyTorch', () => {
  let tiny: Uint8Array;
  let tinyExpected: SafetensorsBuffer;
  beforeAll(async () => {
    tiny = await fixture('tiny.safetensors');
    tinyExpected = parseSafetensors(await fixture('tiny.expected.safetensors'));
  });

  it.each(FRAMEWORKS)('tiny model as %s', async (to) => {
    const st = await converted(tiny, to);
    const y = await tinyForward(nhwcWeights(st, to), inputOf(tinyExpected));
    expect(y.shape).toEqual([2, 4]);
    expect(maxRelativeError(y, tinyExpected.float32Sync('output'))).toBeLessThan(1e-5);
  });

  it('and the eps matters: Keras\'s default eps would change the outputs', async () => {
    const st = await converted(tiny, 'keras');
    const weights = nhwcWeights(st, 'keras');
    const wrongEps: NhwcWeights = { ...weights, bn: async (p) => ({ ...(await weights.bn(p)), epsilon: 1e-3 }) };
    const y = await tinyForward(wrongEps, inputOf(tinyExpected));
    expect(maxRelativeError(y, tinyExpected.float32Sync('output'))).toBeGreaterThan(1e-4);
  });

  describe('ResNet-18', () => {
    let resnet: Uint8Array;
    let expected: SafetensorsBuffer;
    beforeAll(async () => {
      resnet = await fixture('resnet18.safetensors');
      expected = parseSafetensors(await fixture('resnet18.expected.safetensors'));
    });

    it.each(['torch', 'flax', 'mlx'] as const)('as %s', async (to) => {
      const st = await converted(resnet, to);
      const hasDownsample = (block: string[]) => st.tensors.some((t) => t.name.includes(`${block.join(to === 'flax' ? '/' : '.')}${to === 'flax' ? '/' : '.'}downsample`));
      const y = await resnet18Forward(nhwcWeights(st, to), inputOf(expected), hasDownsample);
      expect(y.shape).toEqual([2, 1000]);
      expect(maxRelativeError(y, expected.float32Sync('output'))).toBeLessThan(2e-5);
    });
  });
});
