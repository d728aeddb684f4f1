import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/file-reader.js';
import { parseSafetensors, type SafetensorsBuffer } from '../io/memory.js';
import { openCheckpoint } from '../io/open-checkpoint.js';
import { writeSafetensorsFile } from '../io/file-writer.js';
import { serializeSafetensors } from '../io/serialize-memory.js';
import { FIXTURES, sameBytes, withTempDir } from '../test-support/raw.js';
import { NORMBRIDGE_METADATA_KEY } from './config.js';
import { convertCheckpoint } from './convert.js';
import { convertSafetensorsBuffer } from './convert-buffer.js';
import { FRAMEWORKS, type Framework } from './frameworks/index.js';

let tinyBytes: Uint8Array;
let tiny: SafetensorsBuffer;
const RESNET = join(FIXTURES, 'resnet18.safetensors');

beforeAll(async () => {
  tinyBytes = new Uint8Array(await readFile(join(FIXTURES, 'tiny.safetensors')));
  tiny = parseSafetensors(tinyBytes);
});

/** Same keys, dtypes, shapes and bytes. */
function expectSameTensors(actual: SafetensorsBuffer, expected: SafetensorsBuffer): void {
  expect(actual.tensors.map((t) => t.name).sort()).toEqual(expected.tensors.map((t) => t.name).sort());
  for (const t of expected.tensors) {
    const a = actual.info(t.name);
    expect([a.dtype, a.shape], t.name).toEqual([t.dtype, t.shape]);
    expect(sameBytes(actual.view(t.name), expected.view(t.name)), t.name).toBe(true);
  }
}

function configOf(st: SafetensorsBuffer): { framework: string; batchNorm: Record<string, Record<string, unknown>> } {
  return JSON.parse(st.metadata![NORMBRIDGE_METADATA_KEY]!);
}

async function convert(bytes: Uint8Array, from: Framework, to: Framework, extra: object = {}) {
  const { bytes: out, report } = await convertSafetensorsBuffer(bytes, { from, to, ...extra });
  return { st: parseSafetensors(out), bytes: out, report };
}

const TINY_KEYS: Record<Framework, string[]> = {
  torch: ['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.bias', 'conv.weight', 'fc.bias', 'fc.weight'],
  flax: [
    'batch_stats/bn/mean',
    'batch_stats/bn/var',
    'params/bn/bias',
    'params/bn/scale',
    'params/conv/bias',
    'params/conv/kernel',
    'params/fc/bias',
    'params/fc/kernel',
  ],
  nnx: ['bn/bias', 'bn/mean', 'bn/scale', 'bn/var', 'conv/bias', 'conv/kernel', 'fc/bias', 'fc/kernel'],
  mlx: ['bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.bias', 'conv.weight', 'fc.bias', 'fc.weight'],
  keras: ['bn/beta', 'bn/gamma', 'bn/moving_mean', 'bn/moving_variance', 'conv/bias', 'conv/kernel', 'fc/bias', 'fc/kernel'],
};

describe('tiny model: names, layouts and config in every framework', () => {
  it.each(FRAMEWORKS)('torch → %s gives the framework\'s names', async (to) => {
    const { st, report } = await convert(tinyBytes, 'torch', to);
    expect(st.tensors.map((t) => t.name).sort()).toEqual(TINY_KEYS[to]);
    expect(report.ok).toBe(true);
    expect(report.counts).toEqual({ batchnorm: 1, conv: 1, linear: 1 });
  });

  it('moves kernel elements to the right places (OIHW → HWIO, OHWI; [out,in] → [in,out])', async () => {
    const w = tiny.float32Sync('conv.weight'); // [8, 3, 3, 3] OIHW
    const fc = tiny.float32Sync('fc.weight'); // [4, 8]
    const flax = (await convert(tinyBytes, 'torch', 'flax')).st;
    const mlx = (await convert(tinyBytes, 'torch', 'mlx')).st;
    const hwio = flax.float32Sync('params/conv/kernel');
    const ohwi = mlx.float32Sync('conv.weight');
    expect(flax.info('params/conv/kernel').shape).toEqual([3, 3, 3, 8]);
    expect(mlx.info('conv.weight').shape).toEqual([8, 3, 3, 3]);
    for (let o = 0; o < 8; o++)
      for (let i = 0; i < 3; i++)
        for (let y = 0; y < 3; y++)
          for (let x = 0; x < 3; x++) {
            const v = w[((o * 3 + i) * 3 + y) * 3 + x];
            expect(hwio[((y * 3 + x) * 3 + i) * 8 + o]).toBe(v);
            expect(ohwi[((o * 3 + y) * 3 + x) * 3 + i]).toBe(v);
          }
    const dense = flax.float32Sync('params/fc/kernel');
    expect(flax.info('params/fc/kernel').shape).toEqual([8, 4]);
    for (let o = 0; o < 4; o++) for (let i = 0; i < 8; i++) expect(dense[i * 4 + o]).toBe(fc[o * 8 + i]);
    // BatchNorm tensors are renamed, never moved.
    expect(flax.view('batch_stats/bn/var')).toEqual(tiny.view('bn.running_var'));
    expect(mlx.view('bn.weight')).toEqual(tiny.view('bn.weight'));
  });

  it('carries eps, momentum (in the target\'s convention) and the batch counter', async () => {
    expect(configOf(tiny).batchNorm['bn']).toEqual({ epsilon: 0.01, momentum: 0.2 });
    const flax = (await convert(tinyBytes, 'torch', 'flax')).st;
    expect(flax.metadata!['format']).toBe('flax');
    expect(configOf(flax)).toMatchObject({ framework: 'flax', batchNorm: { bn: { epsilon: 0.01, momentum: 0.8, numBatchesTracked: 5 } } });
    const mlx = (await convert(tinyBytes, 'torch', 'mlx')).st;
    expect(configOf(mlx).batchNorm['bn']).toEqual({ epsilon: 0.01, momentum: 0.2, numBatchesTracked: 5 });
    const keras = (await convert(tinyBytes, 'torch', 'keras')).st;
    expect(configOf(keras).batchNorm['bn']).toEqual({ epsilon: 0.01, momentum: 0.8, numBatchesTracked: 5 });
    const back = (await convert((await convert(tinyBytes, 'torch', 'keras')).bytes, 'keras', 'torch')).st;
    expect(configOf(back).batchNorm['bn']).toEqual({ epsilon: 0.01, momentum: 0.2 });
    expect(back.nativeSync('bn.num_batches_tracked')).toEqual(BigInt64Array.of(5n));
  });

  // Every ordered pair (A, B): torch → A → B → torch is the identity on every tensor.
  const pairs = FRAMEWORKS.flatMap((a) => FRAMEWORKS.filter((b) => b !== a).map((b) => [a, b] as const));
  it.each(pairs)('torch → %s → %s → torch is the identity', async (a, b) => {
    let bytes = tinyBytes;
    let from: Framework = 'torch';
    for (const to of [a, b, 'torch'] as const) {
      if (to === from) continue;
      const step = await convert(bytes, from, to);
      expect(step.report.ok, `${from} → ${to}`).toBe(true);
      bytes = step.bytes;
      from = to;
    }
    const back = parseSafetensors(bytes);
    expectSameTensors(back, tiny);
    expect(configOf(back).batchNorm['bn']).toEqual({ epsilon: 0.01, momentum: 0.2 });
  });

  it('reads and writes dotted Flax names, NNX `value` wrappers and tf.keras `:0` suffixes', async () => {
    const dotted = await convert(tinyBytes, 'torch', 'flax', { outputSeparator: '.' });
    expect(dotted.st.tensors.map((t) => t.name).sort()).toEqual(TINY_KEYS.flax.map((k) => k.replaceAll('/', '.')));
    expectSameTensors((await convert(dotted.bytes, 'flax', 'torch')).st, tiny);

    const nnx = (await convert(tinyBytes, 'torch', 'nnx')).st;
    const wrapped = serializeSafetensors(
      new Map(nnx.tensors.map((t) => [`${t.name}/value`, { dtype: t.dtype, shape: t.shape, bytes: nnx.view(t.name) }])),
      { metadata: { ...nnx.metadata } },
    );
    const fromWrapped = await convert(wrapped, 'nnx', 'torch');
    expect(fromWrapped.report.ok).toBe(true);
    expectSameTensors(fromWrapped.st, tiny);

    const keras = (await convert(tinyBytes, 'torch', 'keras')).st;
    const tfKeras = serializeSafetensors(
      new Map(keras.tensors.map((t) => [`${t.name}:0`, { dtype: t.dtype, shape: t.shape, bytes: keras.view(t.name) }])),
      { metadata: { ...keras.metadata } },
    );
    expectSameTensors((await convert(tfKeras, 'keras', 'torch')).st, tiny);
  });
});

describe('ResNet-18 written by PyTorch', () => {
  it('torch → flax → torch is the identity on every value, the counters included', async () => {
    await withTempDir(async (dir) => {
      const flaxPath = join(dir, 'resnet18.flax.safetensors');
      const backPath = join(dir, 'resnet18.back.safetensors');
      const there = await convertCheckpoint({ from: 'torch', to: 'flax', input: RESNET, output: flaxPath });
      expect(there.ok).toBe(true);
      expect(there.counts).toEqual({ batchnorm: 20, conv: 20, linear: 1 });
      expect(there.writtenTensors).toBe(122 - 20);
      expect(there.notes.join('\n')).toContain('dropped 20 num_batches_tracked');
      const back = await convertCheckpoint({ from: 'flax', to: 'torch', input: flaxPath, output: backPath });
      expect(back.ok).toBe(true);
      expect(back.notes.join('\n')).toContain('restored 20 num_batches_tracked');
      const original = parseSafetensors(new Uint8Array(await readFile(RESNET)));
      const roundTripped = parseSafetensors(new Uint8Array(await readFile(backPath)));
      expectSameTensors(roundTripped, original);
      // F16 kernels stay F16: nothing was widened or rounded on the way.
      expect(roundTripped.info('layer4.1.conv2.weight').dtype).toBe('F16');
      expect(roundTripped.nativeSync('layer3.0.bn1.num_batches_tracked')).toEqual(BigInt64Array.of(3n));
      // The flax file has the right shapes and momentum convention.
      const flax = await openSafetensors(flaxPath);
      expect(flax.info('params/conv1/kernel').shape).toEqual([7, 7, 3, 64]);
      expect(flax.info('params/layer2/0/downsample/0/kernel').shape).toEqual([1, 1, 64, 128]);
      expect(flax.info('params/fc/kernel').shape).toEqual([512, 1000]);
      expect(flax.info('batch_stats/layer2/0/downsample/1/mean').shape).toEqual([128]);
      expect(JSON.parse(flax.metadata![NORMBRIDGE_METADATA_KEY]!).batchNorm['layer4/1/bn2']).toEqual({
        epsilon: 1e-5,
        momentum: 0.9,
        numBatchesTracked: 3,
      });
      await flax.close();
    });
  });

  it.each(['keras', 'mlx', 'nnx'] as const)('torch → %s → torch is the identity', async (via) => {
    const original = parseSafetensors(new Uint8Array(await readFile(RESNET)));
    const there = await convertSafetensorsBuffer(new Uint8Array(await readFile(RESNET)), { from: 'torch', to: via });
    expect(there.report.ok).toBe(true);
    const back = await convert(there.bytes, via, 'torch');
    expect(back.report.ok).toBe(true);
    expectSameTensors(back.st, original);
  });

  it('converts a sharded checkpoint (index + shards) to the same file as the single one', async () => {
    await withTempDir(async (dir) => {
      const original = await openSafetensors(RESNET);
      const names = original.tensors.map((t) => t.name);
      const shards = [names.filter((n) => n < 'layer3'), names.filter((n) => n >= 'layer3')];
      const weightMap: Record<string, string> = {};
      for (const [i, shard] of shards.entries()) {
        const file = `model-0000${i + 1}-of-00002.safetensors`;
        const tensors = new Map(
          await Promise.all(shard.map(async (n) => [n, { ...original.info(n), bytes: await original.bytes(n) }] as const)),
        );
        await writeSafetensorsFile(join(dir, file), tensors, { metadata: { ...original.metadata } });
        for (const n of shard) weightMap[n] = file;
      }
      await original.close();
      const index = join(dir, 'model.safetensors.index.json');
      await writeFile(index, JSON.stringify({ metadata: {}, weight_map: weightMap }));
      const fromShards = await convertCheckpoint({ from: 'torch', to: 'flax', input: index, output: join(dir, 'a.safetensors') });
      const fromFile = await convertCheckpoint({ from: 'torch', to: 'flax', input: RESNET, output: join(dir, 'b.safetensors') });
      expect(fromShards.ok).toBe(true);
      expect(sameBytes(await readFile(join(dir, 'a.safetensors')), await readFile(join(dir, 'b.safetensors')))).toBe(true);
      expect(fromFile.writtenBytes).toBe((await readFile(join(dir, 'b.safetensors'))).length);
      const reader = await openCheckpoint(index);
      expect(reader.tensors).toHaveLength(122);
      await reader.close();
    });
  });

  it('writes identical bytes on every run', async () => {
    const input = new Uint8Array(await readFile(RESNET));
    const one = await convertSafetensorsBuffer(input, { from: 'torch', to: 'keras' });
    const two = await convertSafetensorsBuffer(input, { from: 'torch', to: 'keras' });
    expect(sameBytes(one.bytes, two.bytes)).toBe(true);
  });
});
