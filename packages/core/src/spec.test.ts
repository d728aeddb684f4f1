import { describe, expect, it } from 'vitest';
import {
  batchWeightToDecay, decayToBatchWeight, fromBatchWeightMomentum, fromDecayMomentum, toBatchWeightMomentum, toDecayMomentum,
} from './conventions.js';
import { SingleValuePerChannelError, SpecError, StateError, ShapeError } from './errors.js';
import { checkStateShapes, checkStateValues, checkValuesPerChannel, resolveLayout } from './layout.js';
import { defineSpec } from './spec.js';
import { hostTensor } from './tensor.js';
import { initialState, referenceTrain } from './reference.js';

describe('defineSpec', () => {
  it('fills defaults', () => {
    const s = defineSpec();
    expect(s.featureAxes).toEqual([-1]);
    expect(s.epsilon).toBe(1e-5);
    expect(s.runningVarianceEstimator).toBe('biased');
  });
  it.each([
    ['epsilon', { epsilon: -1 }],
    ['epsilon', { epsilon: Number.NaN }],
    ['epsilon', { epsilon: Number.POSITIVE_INFINITY }],
    ['runningAverage.oldValueWeight', { runningAverage: { kind: 'exponential', oldValueWeight: 1.5 } }],
    ['featureAxes', { featureAxes: [] }],
    ['varianceAlgorithm', { varianceAlgorithm: 'welford' }],
  ])('rejects a bad %s naming the field', (field, input) => {
    const err = (() => { try { defineSpec(input as never); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).field).toBe(field);
    expect((err as SpecError).message).toContain(field);
  });
});

describe('momentum conventions', () => {
  it('PyTorch 0.1 is Flax/Keras/ONNX 0.9 and back', () => {
    expect(fromBatchWeightMomentum(0.1)).toEqual({ kind: 'exponential', oldValueWeight: 0.9 });
    expect(toDecayMomentum(fromBatchWeightMomentum(0.1))).toBeCloseTo(0.9, 15);
    expect(toBatchWeightMomentum(fromDecayMomentum(0.99))).toBeCloseTo(0.01, 15);
    expect(batchWeightToDecay(0.3)).toBeCloseTo(0.7, 15);
    expect(decayToBatchWeight(0.9)).toBeCloseTo(0.1, 15);
    expect(toBatchWeightMomentum(fromBatchWeightMomentum(null))).toBeNull();
  });
  it.each([-0.1, 1.1, Number.NaN])('rejects momentum %s with the option name', (m) => {
    expect(() => fromBatchWeightMomentum(m)).toThrow(SpecError);
    expect(() => fromDecayMomentum(m, 'decay')).toThrow(/"decay"/);
  });
  it('a cumulative average has no decay momentum', () => {
    expect(() => toDecayMomentum({ kind: 'cumulative' })).toThrow(SpecError);
  });
});

describe('bad input', () => {
  const spec = defineSpec({ featureAxes: [1] });
  it('an axis out of range for the rank', () => {
    expect(() => resolveLayout(defineSpec({ featureAxes: [3] }), [2, 3])).toThrow(/axis 3 is out of range for an input of rank 2/);
  });
  it('a repeated axis', () => {
    expect(() => resolveLayout(defineSpec({ featureAxes: [1, -1] }), [2, 3])).toThrow(SpecError);
  });
  it('feature-size mismatch names the state key and both shapes', () => {
    const layout = resolveLayout(spec, [2, 3]);
    const st = initialState(spec, [4]);
    expect(() => checkStateShapes(spec, layout, 'train', st)).toThrow(StateError);
    expect(() => checkStateShapes(spec, layout, 'train', st)).toThrow(/"scale" has shape \[4\] but the input's features have shape \[3\]/);
  });
  it('missing state', () => {
    const layout = resolveLayout(spec, [2, 3]);
    expect(() => checkStateShapes(spec, layout, 'eval', { scale: { shape: [3] }, bias: { shape: [3] } })).toThrow(/"runningMean" is missing/);
  });
  it('NaN or negative running variance', () => {
    const st = initialState(spec, [2]);
    expect(() => checkStateValues({ ...st, runningVar: hostTensor([2], [1, Number.NaN]) })).toThrow(/"runningVar" holds NaN at index 1/);
    expect(() => checkStateValues({ ...st, runningVar: hostTensor([2], [-1, 1]) })).toThrow(StateError);
  });
  it('one value per channel, only where the spec says', () => {
    const layout = resolveLayout(spec, [1, 3]);
    expect(() => checkValuesPerChannel({ ...spec, singleValuePerChannel: 'error' }, layout, 'train')).toThrow(SingleValuePerChannelError);
    expect(() => checkValuesPerChannel({ ...spec, singleValuePerChannel: 'error-in-training' }, layout, 'eval')).not.toThrow();
    expect(() => checkValuesPerChannel({ ...spec, singleValuePerChannel: 'error', evalStatistics: 'batch' }, layout, 'eval')).toThrow(
      'Expected more than 1 value per channel when training, got input size [1, 3]',
    );
    const out = referenceTrain(spec, initialState(spec, [3], 'float64'), hostTensor([1, 3], [1, 2, 3], 'float64'));
    expect(Array.from(out.y.data)).toEqual([0, 0, 0]);
  });
  it('a mask on a spec without masks, and a mask that does not broadcast', () => {
    const s = defineSpec({});
    const x = hostTensor([2, 2], [1, 2, 3, 4]);
    expect(() => referenceTrain(s, initialState(s, [2]), x, { mask: hostTensor([2, 2], [1, 1, 1, 1]) })).toThrow(SpecError);
    const m = defineSpec({ masked: true });
    expect(() => referenceTrain(m, initialState(m, [2]), x, { mask: hostTensor([3], [1, 1, 1]) })).toThrow(ShapeError);
  });
});
