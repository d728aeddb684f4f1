import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Engine, HostTensor } from '@normbridge/core';
import { createTfjsEngine } from '@normbridge/tfjs';
import { createEngineByName, type EngineName } from '@normbridge/engines';
import { compareTensors } from '../compare.js';
import { loadFixture } from '../fixture-load.js';
import { alignedLayer, alignedSpec } from './aligned.js';
import { crossCheck, formatCrossTable, type CrossResult } from './index.js';

const fixture = (p: string) => loadFixture(fileURLToPath(new URL(`../../../fixtures/${p}`, import.meta.url)));
const byField = (r: CrossResult) => Object.fromEntries(r.fields.map((f) => [f.field, f]));
let engine: Engine<any>;
beforeAll(async () => {
  engine = await createTfjsEngine('cpu');
});

describe('a torch fixture replayed through other frameworks', () => {
  it('reproduces itself through the torch adapter (the translation is the identity)', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_defaults'), 'torch', engine);
    expect(r.status).toBe('reproduces');
    expect(r.conventions).toEqual([]);
  });

  it('in Flax linen: train outputs match, running_var (and so eval output) differs by the variance estimator (PyTorch unbiased, Flax biased)', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_defaults'), 'flax-linen', engine);
    expect(r.status).toBe('differs');
    expect(r.explained).toBe(true);
    const f = byField(r);
    expect(f['train output']!.ok).toBe(true);
    expect(f['eval output']!.ok).toBe(false);
    expect(f['running_mean']!.ok).toBe(true);
    expect(f['running_var']!.ok).toBe(false);
    expect(f['running_var']!.final).toBeGreaterThan(1e-3);
    expect(r.conventions.some((c) => c.startsWith('runningVarianceEstimator: "unbiased" → "biased"'))).toBe(true);
    // Momentum 0.1 (batch weight) became Flax's 0.9 (decay): same canonical running average.
    expect(r.conventions.some((c) => c.startsWith('runningAverage'))).toBe(false);
  });

  it('prints one row per fixture and target', async () => {
    const f = await fixture('torch/bn2d_defaults');
    const table = formatCrossTable([await crossCheck(f, 'torch', engine), await crossCheck(f, 'mlx', engine), await crossCheck(f, 'keras', engine)]);
    expect(table).toMatch(/torch\/bn2d_defaults\s+torch\s+reproduces/);
    expect(table).toMatch(/torch\/bn2d_defaults\s+keras\s+differs \(explained\)\s+eval output 4\.8e-3 after 1 eval step\(s\).*running_var 2\.8e-3 after 3 train step\(s\).*runningVarianceEstimator/);
    expect(table).toMatch(/0 unexplained/);
  });
});

describe('an explanation is checked, not assumed', () => {
  // torch/bn2d_defaults as keras differs by runningVarianceEstimator (PyTorch unbiased, Keras
  // biased): Keras' spec with that one field set back to PyTorch's must reproduce the fixture.
  async function alignedRunOk(fields: readonly string[]): Promise<boolean> {
    const f = await fixture('torch/bn2d_defaults');
    const { BatchNormalization } = await import('@normbridge/keras');
    const { torchSpec } = await import('@normbridge/torch');
    const keras = new BatchNormalization({ epsilon: 1e-5, momentum: 0.9, engine }).spec;
    const torch = torchSpec({ eps: 1e-5, momentum: 0.1, scale: true, bias: true, updatesRunningStatistics: true, evalUsesBatchStatistics: false });
    const layer = alignedLayer(f, 'torch', { ...alignedSpec(keras, torch, fields), featureAxes: [1] }, engine);
    let ok = true;
    for (const step of f.manifest.steps) {
      const y = await layer.step(f.tensors.get(step.input) as HostTensor, step.mode);
      ok &&= compareTensors('output', y, f.tensors.get(step.output!) as HostTensor, { atol: 1e-5, rtol: 1e-5 }).ok;
      if (step.mode === 'train') ok &&= compareTensors('var', (await layer.runningStats()).variance, f.tensors.get(step.state!['running_var']!) as HostTensor, { atol: 1e-5, rtol: 1e-5 }).ok;
    }
    return ok;
  }

  it('the target\'s spec with the named convention set back to the source\'s reproduces the source; without it, not', async () => {
    expect(await alignedRunOk(['runningVarianceEstimator'])).toBe(true);
    expect(await alignedRunOk([])).toBe(false);
  });
});

describe('where the target cannot express the source, the nearest configuration it can is measured', () => {
  it('a cumulative average (momentum=None) in Keras: a constant momentum of the next batch\'s weight, the running statistics off after the train steps, explained by runningAverage', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_momentum_none_nondefault_counter'), 'keras', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.reason).toMatch(/cumulative/);
    // The fixture's counter is 7: PyTorch weighs the next batch 1/8.
    expect(r.nearest).toMatch(/^momentum 0\.125 for the cumulative average \(its weight for the next batch at num_batches_tracked 7/);
    const f = byField(r);
    expect(f['train output']!.ok).toBe(true);
    expect(f['running_mean']!.ok).toBe(false);
    expect(f['running_mean']!.steps).toBe(2);
    expect(f['running_mean']!.final).toBeGreaterThan(1e-3);
    expect(r.conventions.some((c) => c.startsWith('runningAverage: {"kind":"cumulative"} → {"kind":"exponential","oldValueWeight":0.875}'))).toBe(true);
    expect(r.explained).toBe(true);
    expect(formatCrossTable([r])).toMatch(/cannot-express, measured\s+.*as the nearest it can express, momentum 0\.125 .*running_mean \d\.\de-\d after 2 train step\(s\).*runningAverage/);
  });

  it('the substituted momentum follows the cumulative average exactly for one step (MLX keeps PyTorch\'s unbiased running variance)', async () => {
    const r = await crossCheck(await fixture('torch/bn1d_momentum_none_semantics_10_3'), 'mlx', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.nearest).toMatch(/^momentum 1 /);
    expect(byField(r)['running_var']!.steps).toBe(1);
    expect(r.fields.every((f) => f.ok)).toBe(true);
  });

  it('eps 0, which MLX refuses: the smallest positive float32 eps, within tolerance', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_eps_0'), 'mlx', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.reason).toMatch(/mlx refuses it: .*eps/);
    expect(r.nearest).toMatch(/eps 2\^-126/);
    expect(r.conventions).toContain('epsilon: 0 → 1.1754943508222875e-38');
    expect(r.fields.length).toBeGreaterThan(0);
    expect(r.fields.every((f) => f.ok)).toBe(true);
  });

  it('a Flax layer with a bias and no scale, which PyTorch cannot build (affine is both or neither): a scale of ones, the bias kept', async () => {
    const r = await crossCheck(await fixture('flax-linen/linen_no_scale'), 'torch', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.reason).toMatch(/scale without a bias or the reverse; torch has both \(affine\) or neither/);
    expect(r.nearest).toMatch(/a scale of ones \/ bias of zeros/);
    // The bias is kept: train outputs match; what differs is explained by the variance conventions.
    expect(byField(r)['train output']!.ok).toBe(true);
    expect(r.explained).toBe(true);
  });

  it('5-D inputs, which MLX refuses: D and H merged into one axis, the same statistics', async () => {
    const r = await crossCheck(await fixture('torch/bn3d_defaults'), 'mlx', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.reason).toMatch(/got 5/);
    expect(r.nearest).toMatch(/5-D inputs as 4-D/);
    expect(r.fields.every((f) => f.ok)).toBe(true);
  });
});

describe('tensors', () => {
  it('a replay frees every layer it builds (ports, the source\'s spec, the aligned check, the retries of the nearest configuration)', async () => {
    for (const [path, target] of [
      ['torch/bn2d_defaults', 'torch'],
      ['torch/bn2d_defaults', 'flax-linen'],
      ['torch/bn2d_defaults', 'mlx'],
      ['torch/bn2d_defaults', 'keras'],
      ['torch/bn2d_momentum_none_nondefault_counter', 'flax-linen'],
      ['flax-linen/linen_no_scale', 'torch'],
    ] as const) {
      const f = await fixture(path);
      const before = tf.memory().numTensors;
      await crossCheck(f, target, engine);
      expect(tf.memory().numTensors - before, `${path} as ${target}`).toBe(0);
    }
  });
});

describe('on every CPU engine, asynchronous ones included', () => {
  it.each(['tfjs-wasm', 'nb-wasm', 'ort-node', 'ort-web-wasm', 'reference-f64'] as EngineName[])('%s: the same verdicts and the same measured differences as tfjs cpu', async (name) => {
    const other = await createEngineByName(name);
    for (const [path, target] of [
      ['torch/bn2d_defaults', 'torch'],
      ['torch/bn2d_defaults', 'flax-linen'],
      ['torch/bn2d_defaults', 'keras'],
      ['torch/bn2d_momentum_none_nondefault_counter', 'mlx'],
    ] as const) {
      const f = await fixture(path);
      const [a, b] = [await crossCheck(f, target, engine), await crossCheck(f, target, other)];
      expect({ status: b.status, explained: b.explained, conventions: b.conventions, nearest: b.nearest }).toEqual({ status: a.status, explained: a.explained, conventions: a.conventions, nearest: a.nearest });
      expect(b.fields.map((x) => [x.field, x.ok, x.steps])).toEqual(a.fields.map((x) => [x.field, x.ok, x.steps]));
      for (const [i, x] of b.fields.entries()) expect(Math.abs(x.final - a.fields[i]!.final)).toBeLessThan(1e-5 + 1e-3 * a.fields[i]!.final);
    }
  }, 60_000);
});
