/**
 * What a conversion reports instead of dropping silently: missing, unexpected and mis-shaped
 * keys, the batch counter policy, config assumptions, and the strict and template modes.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConversionError } from '../errors.js';
import { parseSafetensors } from '../io/memory.js';
import { serializeSafetensors } from '../io/serialize-memory.js';
import { writeSafetensorsFile } from '../io/file-writer.js';
import type { TensorInput } from '../io/tensor-input.js';
import { FIXTURES, withTempDir } from '../test-support/raw.js';
import { NORMBRIDGE_METADATA_KEY } from './config.js';
import { convertCheckpoint, StrictConversionError } from './convert.js';
import { convertSafetensorsBuffer } from './convert-buffer.js';
import { formatConversionReport } from './format-report.js';
import type { TranslateOptions } from './translate.js';

const vec = (n: number, v = 1): TensorInput => ({ dtype: 'F32', shape: [n], data: new Float32Array(n).fill(v) });
const mat = (shape: number[]): TensorInput => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
const count = (n: bigint): TensorInput => ({ dtype: 'I64', shape: [], data: BigInt64Array.of(n) });

function torchBn(prefix: string, c = 4, n = 7n): Record<string, TensorInput> {
  return {
    [`${prefix}.weight`]: vec(c),
    [`${prefix}.bias`]: vec(c, 0),
    [`${prefix}.running_mean`]: vec(c, 0.5),
    [`${prefix}.running_var`]: vec(c, 2),
    [`${prefix}.num_batches_tracked`]: count(n),
  };
}

async function run(tensors: Record<string, TensorInput>, options: TranslateOptions, metadata?: Record<string, string>) {
  const { bytes, report } = await convertSafetensorsBuffer(serializeSafetensors(tensors, { metadata }), options);
  return { st: parseSafetensors(bytes), report };
}

const config = (metadata: Readonly<Record<string, string>> | undefined) => JSON.parse(metadata![NORMBRIDGE_METADATA_KEY]!);

describe('missing keys', () => {
  it('a BatchNorm without its running variance', async () => {
    const t = torchBn('bn');
    delete t['bn.running_var'];
    const { report, st } = await run(t, { from: 'torch', to: 'flax' });
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual([{ key: 'batch_stats/bn/var', reason: 'the source has no running variance for this layer' }]);
    expect(st.has('batch_stats/bn/mean')).toBe(true);
  });

  it('a weight without a bias, for frameworks that keep them together', async () => {
    const { report } = await run(
      { 'bn/gamma': vec(3), 'bn/moving_mean': vec(3), 'bn/moving_variance': vec(3) },
      { from: 'keras', to: 'mlx' },
    );
    expect(report.missing).toEqual([{ key: 'bn.bias', reason: 'mlx stores weight and bias together, and the source has only one of them' }]);
    const toFlax = await run({ 'bn/gamma': vec(3), 'bn/moving_mean': vec(3), 'bn/moving_variance': vec(3) }, { from: 'keras', to: 'flax' });
    expect(toFlax.report.missing).toEqual([]);
  });
});

describe('unexpected keys', () => {
  it('normalisation layers without running statistics, odd ranks and stray keys', async () => {
    const { report, st } = await run(
      {
        ...torchBn('bn'),
        'ln.weight': vec(4),
        'ln.bias': vec(4),
        'cls_token': vec(4),
        'scalar.weight': { dtype: 'F32', shape: [], data: new Float32Array(1) },
        'bn.extra': vec(4),
      },
      { from: 'torch', to: 'flax' },
    );
    expect(report.unexpected.map((u) => u.key).sort()).toEqual(['bn.extra', 'cls_token', 'ln.bias', 'ln.weight', 'scalar.weight']);
    expect(report.unexpected.find((u) => u.key === 'ln.weight')!.reason).toMatch(/without running statistics/);
    expect(report.unexpected.find((u) => u.key === 'scalar.weight')!.reason).toMatch(/rank 0/);
    expect(report.unexpected.find((u) => u.key === 'bn.extra')!.reason).toMatch(/BatchNorm/);
    expect(st.tensors).toHaveLength(4);
    expect(formatConversionReport(report)).toContain('unexpected (5):');
  });

  it('Flax collections other than params and batch_stats, and NNX names given twice', async () => {
    const flax = await run(
      { 'params/d/kernel': mat([3, 2]), 'cache/d/index': vec(1), 'intermediates/x': vec(1) },
      { from: 'flax', to: 'torch' },
    );
    expect(flax.report.unexpected.map((u) => u.key).sort()).toEqual(['cache/d/index', 'intermediates/x']);
    expect(flax.st.info('d.weight').shape).toEqual([2, 3]);
    const nnx = await run({ 'bn/mean': vec(2), 'bn/mean/value': vec(2), 'bn/var': vec(2) }, { from: 'nnx', to: 'torch' });
    expect(nnx.report.unexpected).toEqual([{ key: 'bn/mean/value', reason: 'names the same variable as bn/mean' }]);
  });
});

describe('shape mismatches', () => {
  it('within a BatchNorm, a conv bias, and a batch counter that is not an integer', async () => {
    const t = torchBn('bn', 4);
    t['bn.running_var'] = vec(5);
    t['bn.num_batches_tracked'] = { dtype: 'F32', shape: [1], data: new Float32Array([3]) };
    const { report } = await run({ ...t, 'conv.weight': mat([8, 3, 3, 3]), 'conv.bias': vec(7) }, { from: 'torch', to: 'keras' });
    expect(report.shapeMismatches.map((m) => [m.key, m.expected, m.actual])).toEqual([
      ['bn.running_var', [4], [5]],
      ['bn.num_batches_tracked', [], [1]],
      ['conv.bias', [8], [7]],
    ]);
    expect(formatConversionReport(report)).toContain('bn.running_var: expected [4], got [5]');
  });
});

describe('templates and strict mode', () => {
  it('compares the output with a checkpoint of the target model, like a strict load_state_dict', async () => {
    await withTempDir(async (dir) => {
      const template = join(dir, 'template.safetensors');
      await writeSafetensorsFile(template, {
        'params/conv/kernel': mat([3, 3, 3, 8]),
        'params/conv/bias': vec(8),
        'params/bn/scale': vec(8),
        'params/bn/bias': vec(8),
        'batch_stats/bn/mean': vec(8),
        'batch_stats/bn/var': vec(8),
        'params/fc/kernel': mat([8, 5]), // the model has 5 classes, the checkpoint 4
        'params/head/kernel': mat([4, 2]), // not in the checkpoint
      });
      const output = join(dir, 'out.safetensors');
      const input = join(FIXTURES, 'tiny.safetensors');
      const report = await convertCheckpoint({ from: 'torch', to: 'flax', input, output, template });
      expect(report.ok).toBe(false);
      expect(report.missing.map((m) => m.key)).toEqual(['params/head/kernel']);
      expect(report.unexpected.map((m) => m.key)).toEqual(['params/fc/bias']);
      expect(report.shapeMismatches.map((m) => [m.key, m.expected, m.actual])).toEqual([['params/fc/kernel', [8, 5], [8, 4]]]);
      expect(existsSync(output)).toBe(true);

      const strictOut = join(dir, 'strict.safetensors');
      const error = await convertCheckpoint({ from: 'torch', to: 'flax', input, output: strictOut, template, strict: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StrictConversionError);
      expect((error as StrictConversionError).code).toBe('strict-check-failed');
      expect((error as StrictConversionError).report.missing).toHaveLength(1);
      expect(existsSync(strictOut)).toBe(false);
    });
  });

  it('strict mode passes a clean conversion', async () => {
    await withTempDir(async (dir) => {
      const report = await convertCheckpoint({
        from: 'torch',
        to: 'nnx',
        input: join(FIXTURES, 'tiny.safetensors'),
        output: join(dir, 'nnx.safetensors'),
        strict: true,
      });
      expect(report.ok).toBe(true);
      expect(report.writtenBytes).toBe((await readFile(join(dir, 'nnx.safetensors'))).length);
    });
  });

  it('a dry run reports without writing', async () => {
    const report = await convertCheckpoint({ from: 'torch', to: 'mlx', input: join(FIXTURES, 'tiny.safetensors') });
    expect(report.output).toBeUndefined();
    expect(report.writtenTensors).toBe(8);
    expect(formatConversionReport(report)).toContain('(dry run)');
  });
});

describe('batch counter policy', () => {
  it('leaving torch: dropped with a note, count kept in metadata', async () => {
    const { st, report } = await run(torchBn('bn', 4, 42n), { from: 'torch', to: 'nnx' });
    expect(st.has('bn/num_batches_tracked')).toBe(false);
    expect(report.notes.some((n) => n.startsWith('dropped 1 num_batches_tracked'))).toBe(true);
    expect(config(st.metadata).batchNorm['bn'].numBatchesTracked).toBe(42);
  });

  it('entering torch without a recorded count: int64 zero of shape [], with a note', async () => {
    const { st, report } = await run(
      { 'params/bn/scale': vec(2), 'params/bn/bias': vec(2), 'batch_stats/bn/mean': vec(2), 'batch_stats/bn/var': vec(2) },
      { from: 'flax', to: 'torch' },
    );
    expect(st.info('bn.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(st.nativeSync('bn.num_batches_tracked')).toEqual(BigInt64Array.of(0n));
    expect(report.notes.some((n) => n.startsWith('created 1 num_batches_tracked'))).toBe(true);
  });

  it('torch to torch keeps the counter as it is', async () => {
    const { st } = await run(torchBn('bn', 4, 9n), { from: 'torch', to: 'torch' });
    expect(st.nativeSync('bn.num_batches_tracked')).toEqual(BigInt64Array.of(9n));
  });
});

describe('eps and momentum', () => {
  it('assumes the source framework\'s defaults when the input records nothing, and says so', async () => {
    const { st, report } = await run(torchBn('bn'), { from: 'torch', to: 'flax' });
    expect(config(st.metadata).batchNorm['bn']).toMatchObject({ epsilon: 1e-5, momentum: 0.9 });
    expect(report.layers[0]).toMatchObject({ configOrigin: 'assumed', epsilon: 1e-5, momentum: 0.9 });
    expect(report.notes.some((n) => n.includes("carry no eps/momentum in the input's metadata; assumed torch's eps 1e-5 and momentum 0.1"))).toBe(true);
  });

  it('takes `assume` in the source\'s convention and converts it for the target', async () => {
    const { st } = await run(torchBn('bn'), { from: 'torch', to: 'keras', assume: { epsilon: 1e-3, momentum: 0.01 } });
    expect(config(st.metadata).batchNorm['bn']).toMatchObject({ epsilon: 1e-3, momentum: 0.99 });
    const back = await run(
      { 'bn/gamma': vec(2), 'bn/beta': vec(2), 'bn/moving_mean': vec(2), 'bn/moving_variance': vec(2) },
      { from: 'keras', to: 'torch' },
    );
    // Keras's own defaults, converted: eps 1e-3, momentum 0.99 → 0.01.
    expect(config(back.st.metadata).batchNorm['bn']).toEqual({ epsilon: 1e-3, momentum: 0.01 });
    expect(back.report.notes.some((n) => n.includes('need epsilon=0.001, but torch defaults to 1e-5'))).toBe(true);
  });

  it('PyTorch\'s cumulative average (momentum=None) has no decay form: noted, not invented', async () => {
    const meta = { [NORMBRIDGE_METADATA_KEY]: JSON.stringify({ version: 1, framework: 'torch', batchNorm: { bn: { epsilon: 1e-5, momentum: null } } }) };
    const flax = await run(torchBn('bn'), { from: 'torch', to: 'flax' }, meta);
    expect(config(flax.st.metadata).batchNorm['bn']).toEqual({ epsilon: 1e-5, numBatchesTracked: 7 });
    expect(flax.report.notes.some((n) => n.includes('momentum not carried over'))).toBe(true);
    const torch = await run(torchBn('bn'), { from: 'torch', to: 'torch' }, meta);
    expect(config(torch.st.metadata).batchNorm['bn']).toEqual({ epsilon: 1e-5, momentum: null });
    const mlx = await run(torchBn('bn'), { from: 'torch', to: 'mlx' }, meta);
    expect(mlx.report.notes.some((n) => n.includes('mlx has no cumulative average'))).toBe(true);
  });

  it('ignores broken normbridge metadata with a note', async () => {
    const { report } = await run(torchBn('bn'), { from: 'torch', to: 'flax' }, { [NORMBRIDGE_METADATA_KEY]: '{"version":1,"batchNorm":' });
    expect(report.notes.some((n) => n.startsWith('ignored the "normbridge" metadata'))).toBe(true);
    const bad = await run(torchBn('bn'), { from: 'torch', to: 'flax' }, {
      [NORMBRIDGE_METADATA_KEY]: JSON.stringify({ version: 1, batchNorm: { bn: { epsilon: -1 } } }),
    });
    expect(bad.report.notes.some((n) => n.startsWith('ignored metadata for layer "bn"'))).toBe(true);
  });
});

describe('paths', () => {
  it('mapPath renames module paths on the way', async () => {
    const { st, report } = await run(torchBn('layer1.0.bn1'), {
      from: 'torch',
      to: 'flax',
      mapPath: (p) => (p.length === 3 ? [`${p[0]}_${p[1]}`, p[2]!] : p),
    });
    expect(st.has('batch_stats/layer1_0/bn1/mean')).toBe(true);
    expect(report.layers[0]).toMatchObject({ sourcePath: 'layer1.0.bn1', targetPath: 'layer1_0/bn1' });
    expect(config(st.metadata).batchNorm).toHaveProperty(['layer1_0/bn1']);
  });

  it('refuses a path segment that the target\'s separator would split', async () => {
    const flax = { 'params/a.b/kernel': mat([2, 2]) };
    await expect(run(flax, { from: 'flax', to: 'torch' })).rejects.toMatchObject({ code: 'path-ambiguous' });
    await expect(run(flax, { from: 'flax', to: 'torch' })).rejects.toBeInstanceOf(ConversionError);
  });

  it('refuses two layers mapped onto one path', async () => {
    await expect(
      run({ ...torchBn('a'), ...torchBn('b') }, { from: 'torch', to: 'flax', mapPath: () => ['same'] }),
    ).rejects.toMatchObject({ code: 'key-collision', key: 'params/same/scale' });
  });

  it('refuses unknown frameworks and separators', async () => {
    await expect(run(torchBn('bn'), { from: 'torch', to: 'jax' as never })).rejects.toMatchObject({ code: 'unknown-framework' });
    await expect(run(torchBn('bn'), { from: 'torch', to: 'keras', outputSeparator: '.' })).rejects.toMatchObject({ code: 'invalid-config' });
  });

  it('converts conv1d and conv3d kernels, and a root-level BatchNorm', async () => {
    const w1 = { dtype: 'F32' as const, shape: [4, 2, 3], data: Float32Array.from({ length: 24 }, (_, i) => i) };
    const w3 = { dtype: 'F32' as const, shape: [2, 1, 2, 3, 4], data: Float32Array.from({ length: 48 }, (_, i) => i) };
    const { st } = await run(
      { 'c1.weight': w1, 'c3.weight': w3, weight: vec(2), bias: vec(2), running_mean: vec(2), running_var: vec(2), num_batches_tracked: count(1n) },
      { from: 'torch', to: 'keras' },
    );
    expect(st.info('c1/kernel').shape).toEqual([3, 2, 4]); // WIO
    expect(st.info('c3/kernel').shape).toEqual([2, 3, 4, 1, 2]); // DHWIO
    expect(st.float32Sync('c1/kernel')[(2 * 2 + 1) * 4 + 3]).toBe(w1.data[(3 * 2 + 1) * 3 + 2]); // [w=2,i=1,o=3] = torch [o=3,i=1,w=2]
    expect(st.has('gamma') && st.has('moving_variance')).toBe(true);
  });
});

describe('formatConversionReport', () => {
  it('summarises a real conversion', async () => {
    const report = await convertCheckpoint({ from: 'torch', to: 'keras', input: join(FIXTURES, 'tiny.safetensors') });
    const text = formatConversionReport(report, { layers: true });
    expect(text).toContain('convert torch → keras: OK');
    expect(text).toContain('layers: 1 BatchNorm, 1 conv, 1 dense');
    expect(text).toContain('eps 0.01, momentum 0.8 (1 layer)');
    expect(text).toMatch(/batchnorm\s+bn\s+bn\s+\[8\]\s+F32\s+0\.01\s+0\.8\s+5/);
    expect(text).toContain('need epsilon=0.01, but keras defaults to 0.001');
    expect(text).toContain('transposed 1 convolution kernel(s) OIHW → HWIO');
  });
});
