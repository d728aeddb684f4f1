import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../io/memory.js';
import { serializeSafetensors } from '../io/serialize-memory.js';
import { convertSafetensorsBuffer } from '../port/convert-buffer.js';
import { FRAMEWORKS } from '../port/frameworks/index.js';
import { FIXTURES } from '../test-support/raw.js';
import { detectFramework } from './detect-framework.js';
import { formatInspectReport } from './format-inspect.js';
import { inspectCheckpoint, inspectReader } from './inspect.js';

const RESNET = join(FIXTURES, 'resnet18.safetensors');

describe('inspectCheckpoint', () => {
  it('summarises ResNet-18: tensors, dtypes, layers and BatchNorm statistics', async () => {
    const report = await inspectCheckpoint(RESNET);
    expect(report.framework).toBe('torch');
    expect(report.totals.tensors).toBe(122);
    expect(report.totals.byDtype).toEqual({
      // 11,689,512 parameters, of which 2 × 4,800 are BatchNorm scales and biases.
      F16: { tensors: 22, bytes: (11_689_512 - 2 * 4800) * 2 },
      F32: { tensors: 80, bytes: 4 * 4800 * 4 },
      I64: { tensors: 20, bytes: 160 },
    });
    expect(report.totals.elements).toBe(11_689_512 + 2 * 4800 + 20);
    expect(report.layerCounts).toEqual({ batchnorm: 20, conv: 20, linear: 1 });
    expect(report.otherTensors).toBe(0);
    expect(report.batchNorm.map((b) => b.path).slice(0, 4)).toEqual(['bn1', 'layer1.0.bn1', 'layer1.0.bn2', 'layer1.1.bn1']);
    const bn = report.batchNorm.find((b) => b.path === 'layer2.0.downsample.1')!;
    expect(bn).toMatchObject({ channels: 128, dtype: 'F32', epsilon: 1e-5, momentum: 0.1, configOrigin: 'metadata', numBatchesTracked: 3, warnings: [] });
    // The ranges are those of the stored statistics.
    const st = parseSafetensors(new Uint8Array(await readFile(RESNET)));
    const mean = st.float32Sync('layer2.0.downsample.1.running_mean');
    const variance = st.float32Sync('layer2.0.downsample.1.running_var');
    expect(bn.runningMean).toEqual({ min: Math.min(...mean), max: Math.max(...mean), nonFinite: 0 });
    expect(bn.runningVar).toEqual({ min: Math.min(...variance), max: Math.max(...variance), nonFinite: 0 });
    // Training moved the statistics away from their initial 0 and 1.
    expect(bn.runningMean!.max - bn.runningMean!.min).toBeGreaterThan(0.1);

    const text = formatInspectReport(report, { maxTensors: 6 });
    expect(text).toContain('framework: torch');
    expect(text).toContain('122 tensors');
    expect(text).toMatch(/conv1\.weight\s+F16\s+\[64, 3, 7, 7\]\s+18\.8 kB/);
    expect(text).toContain('... and 116 more');
    expect(text).toContain('layers: 20 BatchNorm, 20 conv, 1 dense; 0 other tensor(s)');
    expect(text).toMatch(/layer4\.1\.bn2\s+512\s+\[-?[\d.e-]+, [\d.e-]+\]\s+\[[\d.e-]+, [\d.e-]+\]\s+1e-5\s+0\.1\s+3/);
  });

  it.each(FRAMEWORKS)('finds the BatchNorm layers of a %s checkpoint', async (to) => {
    const tiny = new Uint8Array(await readFile(join(FIXTURES, 'tiny.safetensors')));
    const { bytes } = await convertSafetensorsBuffer(tiny, { from: 'torch', to });
    const report = await inspectReader(parseSafetensors(bytes));
    expect(report.framework).toBe(to);
    expect(report.layerCounts).toEqual({ batchnorm: 1, conv: 1, linear: 1 });
    expect(report.batchNorm[0]).toMatchObject({ path: 'bn', channels: 8, epsilon: 0.01, configOrigin: 'metadata', numBatchesTracked: 5 });
    expect(report.batchNorm[0]!.momentum).toBe(to === 'torch' || to === 'mlx' ? 0.2 : 0.8);
  });

  it('detects frameworks from key names alone', () => {
    expect(detectFramework(['a.running_mean', 'a.num_batches_tracked'], undefined).framework).toBe('torch');
    expect(detectFramework(['a.running_mean', 'a.running_var'], undefined).framework).toBe('mlx');
    expect(detectFramework(['a.running_mean'], { format: 'pt' }).framework).toBe('torch');
    expect(detectFramework(['params/a/scale', 'batch_stats/a/mean'], undefined).framework).toBe('flax');
    expect(detectFramework(['params.a.kernel'], undefined).framework).toBe('flax');
    expect(detectFramework(['a/moving_mean:0'], undefined).framework).toBe('keras');
    expect(detectFramework(['a/mean', 'a/var'], undefined).framework).toBe('nnx');
    expect(detectFramework(['x'], undefined)).toEqual({ framework: undefined, reason: 'no BatchNorm variables or framework metadata found' });
  });

  it('flags statistics that would break inference', async () => {
    const bytes = serializeSafetensors({
      'bn.running_mean': { dtype: 'F32', shape: [3], data: new Float32Array([0, NaN, 1]) },
      'bn.running_var': { dtype: 'F32', shape: [3], data: new Float32Array([1, -0.5, Infinity]) },
      'bn.num_batches_tracked': { dtype: 'I64', shape: [], data: BigInt64Array.of(2n) },
    });
    const report = await inspectReader(parseSafetensors(bytes));
    expect(report.batchNorm[0]).toMatchObject({
      runningMean: { min: 0, max: 1, nonFinite: 1 },
      runningVar: { min: -0.5, max: 1, nonFinite: 1 },
      configOrigin: 'default',
      epsilon: 1e-5,
    });
    expect(report.batchNorm[0]!.warnings).toEqual([
      '1 non-finite running mean value(s)',
      '1 non-finite running variance value(s)',
      'negative running variance (min -0.5)',
    ]);
    expect(formatInspectReport(report)).toContain('1e-5*');
  });

  it('takes the framework when told, and reports files it cannot read as typed errors', async () => {
    const report = await inspectCheckpoint(RESNET, { framework: 'mlx' });
    expect(report.frameworkReason).toBe('given');
    await expect(inspectCheckpoint(join(FIXTURES, 'nope.safetensors'))).rejects.toMatchObject({ code: 'read-failed' });
  });
});
