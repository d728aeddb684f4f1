import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createTfjsEngine } from '../../engine.js';
import { wasmKernelFlavour } from '../register.js';
import { BATCH_NORM_GRAD, BATCH_NORM_MOMENTS, BATCH_NORM_NORMALIZE } from '../kernel_names.js';
import { normals } from '@normbridge/testing';
import { kernelModuleUrl } from '@normbridge/wasm/kernels';

const BUILT = existsSync(kernelModuleUrl('plain'));

describe('the wasm SIMD kernels built from kernels/batchnorm.c of @normbridge/wasm', () => {
  it('are built on CI and used by the wasm backend whenever built', async () => {
    if (process.env['CI'] === 'true') expect(BUILT, 'CI builds the module (scripts/build-wasm.mjs installs clang + lld)').toBe(true);
    await createTfjsEngine('wasm');
    expect(wasmKernelFlavour()).toBe(BUILT ? 'simd' : 'loops');
  });

  // Odd sizes reach every SIMD loop's scalar tail; the cpu loops compute in float64.
  const SHAPES = [
    { name: 'NHWC, 7 channels', outer: 13, channels: 7, inner: 1 },
    { name: 'NCHW, inner 7', outer: 3, channels: 5, inner: 7 },
    { name: 'NCHW, inner 64', outer: 2, channels: 3, inner: 64 },
  ];
  it.each(SHAPES)('agree with the cpu kernels on $name (moments, normalise, gradient)', async ({ outer, channels, inner }) => {
    const cpu = await createTfjsEngine('cpu');
    const wasm = await createTfjsEngine('wasm');
    const size = outer * channels * inner;
    const run = (engine: typeof cpu) => {
      engine.fromHost({ shape: [1], data: new Float32Array(1), dtype: 'float32' }).dispose(); // activates its backend
      const x = tf.tensor1d(Float32Array.from(normals(size, 3), (v) => 50 + 2 * v));
      const dy = tf.tensor1d(Float32Array.from(normals(size, 4)));
      const scale = tf.tensor1d(Float32Array.from(normals(channels, 5)));
      const bias = tf.tensor1d(Float32Array.from(normals(channels, 6)));
      const blocks = { outer, channels, inner };
      const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }, { ...blocks, algorithm: 'two-pass' }) as tf.Tensor[];
      const y = tf.engine().runKernel(BATCH_NORM_NORMALIZE, { x, mean: mean!, variance: variance!, scale, bias }, { ...blocks, epsilon: 1e-5 }) as tf.Tensor;
      const grads = tf.engine().runKernel(BATCH_NORM_GRAD, { x, dy, mean: mean!, variance: variance!, scale }, { ...blocks, epsilon: 1e-5, batchStatistics: true }) as tf.Tensor[];
      const out = [mean!, variance!, y, ...grads].map((t) => Array.from(t.dataSync()));
      tf.dispose([x, dy, scale, bias, mean!, variance!, y, ...grads]);
      return out;
    };
    const [a, b] = [run(cpu), run(wasm)];
    const labels = ['mean', 'variance', 'y', 'dx', 'dScale', 'dBias'];
    a.forEach((values, k) => {
      const scaleOf = Math.max(...values.map(Math.abs), 1);
      values.forEach((v, i) => expect(Math.abs(v - b[k]![i]!), `${labels[k]}[${i}]`).toBeLessThanOrEqual(4e-6 * scaleOf));
    });
  });
});
