import { describe, expect, it } from 'vitest';
import { runningAverageWeights } from './conventions.js';
import { resolveLayout, statisticsShape } from './layout.js';
import { defineSpec } from './spec.js';

describe('runningAverageWeights', () => {
  it('weighs the batch 1/tracked for a cumulative average, exactly', () => {
    expect(runningAverageWeights({ kind: 'cumulative' }, 3)).toEqual({ oldWeight: 1 - 1 / 3, batchWeight: 1 / 3 });
    expect(runningAverageWeights({ kind: 'cumulative' }, 1)).toEqual({ oldWeight: 0, batchWeight: 1 });
  });

  it('weighs the old value oldValueWeight for an exponential average', () => {
    expect(runningAverageWeights({ kind: 'exponential', oldValueWeight: 0.9 }, 7)).toEqual({ oldWeight: 0.9, batchWeight: 1 - 0.9 });
  });

  it('keeps the old value when there is no running average', () => {
    expect(runningAverageWeights({ kind: 'none' }, 2)).toEqual({ oldWeight: 1, batchWeight: 0 });
  });
});

describe('statisticsShape', () => {
  const spec = defineSpec({ featureAxes: [1] });
  it('is the feature shape without replicas', () => {
    expect(statisticsShape(resolveLayout(spec, [4, 3, 2]))).toEqual([3]);
  });
  it('stacks per replica when a replica axis is in use, even for one replica', () => {
    expect(statisticsShape(resolveLayout(spec, [2, 4, 3], { groups: [[0, 1]] }))).toEqual([2, 3]);
    expect(statisticsShape(resolveLayout(spec, [1, 4, 3], {}))).toEqual([1, 3]);
  });
});
