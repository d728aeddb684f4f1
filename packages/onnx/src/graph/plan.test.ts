import { defineSpec, type BatchNormSpecInput } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { chooseGraph, type CallTraits, type GraphKind } from './plan.js';

const base: CallTraits = { dtype: 'float32', masked: false, replicated: false, primitiveOnly: false };

// The README's decision table, row by row.
const ROWS: [string, BatchNormSpecInput, 'train' | 'eval' | 'vjp', Partial<CallTraits>, GraphKind][] = [
  ['inference, float32', {}, 'eval', {}, 'batchnorm-node'],
  ['inference, float64, eps 1e-5 (not a float32)', {}, 'eval', { dtype: 'float64' }, 'primitive'],
  ['inference, float64, eps 2^-10', { epsilon: 2 ** -10 }, 'eval', { dtype: 'float64' }, 'batchnorm-node'],
  ['training, ONNX semantics', {}, 'train', {}, 'batchnorm-node'],
  ['training, unbiased + cumulative (update is primitive anyway)', { runningVarianceEstimator: 'unbiased', runningAverage: { kind: 'cumulative' } }, 'train', {}, 'batchnorm-node'],
  ['training, decay-toward', { runningUpdateForm: 'decay-toward' }, 'train', {}, 'batchnorm-node'],
  ['training, several feature axes', { featureAxes: [3, 1] }, 'train', {}, 'batchnorm-node'],
  ['training, one-pass variance', { varianceAlgorithm: 'one-pass-clamped' }, 'train', {}, 'primitive'],
  ['training with a mask', { masked: true }, 'train', { masked: true }, 'primitive'],
  ['training with replicas', {}, 'train', { replicated: true }, 'primitive'],
  ['training, float64, eps 1e-5', {}, 'train', { dtype: 'float64' }, 'primitive'],
  ['eval with batch statistics', { evalStatistics: 'batch' }, 'eval', {}, 'batchnorm-node'],
  ['eval with batch statistics and a mask', { evalStatistics: 'batch', masked: true }, 'eval', { masked: true }, 'primitive'],
  ['gradients', {}, 'vjp', {}, 'primitive'],
  ['forced primitive', {}, 'train', { primitiveOnly: true }, 'primitive'],
];

describe('graph choice', () => {
  for (const [name, spec, op, traits, kind] of ROWS) {
    it(name, () => {
      const mode = op === 'eval' ? 'eval' : 'train';
      const choice = chooseGraph(defineSpec(spec), op, mode, { ...base, ...traits });
      expect(choice.kind).toBe(kind);
      expect(choice.reason.length).toBeGreaterThan(0);
    });
  }
});
