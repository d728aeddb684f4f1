import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineSpec, resolveLayout } from '@normbridge/core';
import { broadcastParam, flatParam, makePlan, toFeatureShape } from './plan.js';

const plan = (featureAxes: number[], shape: number[], replicated = false) =>
  makePlan(resolveLayout(defineSpec({ featureAxes }), shape, replicated ? {} : undefined), replicated);

describe('plan', () => {
  it.each([
    [[-1], [2, 3, 4], true],
    [[2, 1], [2, 3, 4], true],
    [[-2, -1], [2, 3, 4], true],
    [[1], [2, 3, 4], false],
    [[0, 2], [2, 3, 4], false],
  ])('features %j of %j are channels-last: %s', (axes, shape, expected) => {
    expect(plan(axes, shape).channelsLast).toBe(expected);
  });

  it.each([
    [[-1], [2, 3, 4], false, { outer: 6, channels: 4, inner: 1 }],
    [[1], [2, 3, 4], false, { outer: 2, channels: 3, inner: 4 }],
    [[2, 1], [2, 3, 4, 5], false, { outer: 2, channels: 12, inner: 5 }],
    [[0], [2, 3, 4], false, { outer: 1, channels: 2, inner: 12 }],
    [[1], [5, 2, 3, 4], true, { outer: 10, channels: 3, inner: 4 }],
    [[0, 2], [2, 3, 4], false, undefined],
  ])('features %j of %j (replicated: %s) are the block %j', (axes, shape, replicated, expected) => {
    expect(plan(axes, shape, replicated).block).toEqual(expected);
  });

  it('reduces over every non-feature axis, keeping the replica axis', () => {
    const p = plan([1], [5, 2, 3, 4], true);
    expect(p.reduceAxes).toEqual([1, 3]);
    expect(p.paramReduceAxes).toEqual([0, 1, 3]);
    expect(p.statShape).toEqual([5, 1, 3, 1]);
    expect(p.paramShape).toEqual([1, 3, 1]);
  });

  it('moves state between the spec’s feature order and memory order losslessly', async () => {
    await tf.setBackend('cpu');
    const p = plan([2, 0], [3, 5, 4]); // features in spec order: [4, 3]
    expect(p.ascendingFeatureShape).toEqual([3, 4]);
    const state = tf.tensor(Array.from({ length: 12 }, (_, i) => i), [4, 3]);
    const flat = flatParam(p, state);
    // Element (c2 = i, c0 = j) of the spec-ordered state sits at memory position j·4 + i.
    expect(Array.from(flat.dataSync())).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    expect(broadcastParam(p, state).shape).toEqual([3, 1, 4]);
    expect(Array.from(toFeatureShape(p, flat, false).dataSync())).toEqual(Array.from(state.dataSync()));
  });
});
