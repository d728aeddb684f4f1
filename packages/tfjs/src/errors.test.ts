import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  defineSpec,
  filled,
  fromBatchWeightMomentum,
  fromDecayMomentum,
  hostTensor,
  initialState,
  ShapeError,
  SingleValuePerChannelError,
  SpecError,
  StateError,
  UnsupportedError,
  type HostState,
} from '@normbridge/core';
import { createTfjsEngine } from './engine.js';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';

/** Runs `f`, expecting a typed error; returns it for field checks. */
function thrown<E extends Error>(type: new (...args: never[]) => E, f: () => unknown): E {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

describe('spec and convention checks (before any engine)', () => {
  it.each([
    ['a negative epsilon', { epsilon: -1e-5 }],
    ['an infinite epsilon', { epsilon: Infinity }],
    ['a NaN epsilon', { epsilon: Number.NaN }],
  ])('rejects %s, naming "epsilon"', (_, input) => {
    expect(thrown(SpecError, () => defineSpec(input)).field).toBe('epsilon');
  });

  it('rejects an old-value weight outside [0, 1], naming its path', () => {
    const error = thrown(SpecError, () => defineSpec({ runningAverage: { kind: 'exponential', oldValueWeight: 1.5 } }));
    expect(error.field).toBe('runningAverage.oldValueWeight');
  });

  it.each([
    ['decay momentum 1.01', () => fromDecayMomentum(1.01)],
    ['decay momentum -0.5', () => fromDecayMomentum(-0.5)],
    ['batch-weight momentum 2', () => fromBatchWeightMomentum(2)],
    ['batch-weight momentum NaN', () => fromBatchWeightMomentum(Number.NaN)],
  ])('rejects %s through the conventions helpers, naming "momentum"', (_, f) => {
    expect(thrown(SpecError, f).field).toBe('momentum');
  });

  it('rejects a feature axis that is not an integer', () => {
    expect(thrown(SpecError, () => defineSpec({ featureAxes: [0.5] })).field).toBe('featureAxes.0');
  });
});

describe('backend selection', () => {
  it('webgl cannot start in Node and says what it needs', async () => {
    const error = await createTfjsEngine('webgl').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect((error as Error).message).toMatch(/webgl.*WebGL 2/);
  });

  it('an unknown backend name is an UnsupportedError', async () => {
    const error = await createTfjsEngine('metal' as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
  });
});

describe.each(TEST_BACKENDS)('bad input on tfjs-%s', (backend) => {
  const engine = useEngine(backend);
  const spec = defineSpec({});
  const x = () => engine().fromHost(filled([4, 3], 1));
  const state = (s: HostState = initialState(spec, [3])) => engine().stateFromHost(s);

  it('an input of rank 0 is a ShapeError naming its shape', () => {
    const error = thrown(ShapeError, () => engine().train(spec, state(), tf.scalar(1)));
    expect(error.actual).toEqual([]);
  });

  it('a feature axis out of range is a SpecError naming featureAxes', () => {
    const error = thrown(SpecError, () => engine().train(defineSpec({ featureAxes: [2] }), state(), x()));
    expect(error.field).toBe('featureAxes');
    expect(error.message).toContain('rank 2');
  });

  it('a feature axis given twice is a SpecError', () => {
    expect(thrown(SpecError, () => engine().evaluate(defineSpec({ featureAxes: [1, -1] }), state(), x())).field).toBe('featureAxes');
  });

  it('features that do not match the state are a StateError naming the key', () => {
    const error = thrown(StateError, () => engine().train(spec, state(initialState(spec, [4])), x()));
    expect(error.key).toBe('scale');
    expect(error.message).toContain('[4]');
  });

  it('a missing running variance is a StateError in training', () => {
    const { runningVar: _, ...rest } = initialState(spec, [3]);
    expect(thrown(StateError, () => engine().train(spec, state(rest), x())).key).toBe('runningVar');
  });

  it('a missing running mean is a StateError in inference', () => {
    const { runningMean: _, ...rest } = initialState(spec, [3]);
    expect(thrown(StateError, () => engine().evaluate(spec, state(rest), x())).key).toBe('runningMean');
  });

  it('a missing scale is a StateError when the spec has one', () => {
    const { scale: _, ...rest } = initialState(spec, [3]);
    expect(thrown(StateError, () => engine().vjp(spec, state(rest), x(), x(), 'train')).key).toBe('scale');
  });

  it('a mis-shaped running variance is a StateError', () => {
    const s = { ...initialState(spec, [3]), runningVar: filled([3, 1], 1) };
    expect(thrown(StateError, () => engine().train(spec, state(s), x())).key).toBe('runningVar');
  });

  it.each([
    ['a NaN running variance', 'runningVar', { runningVar: hostTensor([3], [1, Number.NaN, 1]) }],
    ['a negative running variance', 'runningVar', { runningVar: hostTensor([3], [1, -0.5, 1]) }],
    ['an infinite running mean', 'runningMean', { runningMean: hostTensor([3], [0, Infinity, 0]) }],
    ['a negative counter', 'numBatchesTracked', { numBatchesTracked: -1 }],
  ])('%s is a StateError at stateFromHost', (_, key, patch) => {
    const before = tf.memory().numTensors;
    expect(thrown(StateError, () => engine().stateFromHost({ ...initialState(spec, [3]), ...patch })).key).toBe(key);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('one value per channel is a SingleValuePerChannelError where the spec says so', () => {
    const strict = defineSpec({ singleValuePerChannel: 'error' });
    const one = engine().fromHost(filled([1, 3], 1));
    expect(() => engine().train(strict, state(), one)).toThrow(SingleValuePerChannelError);
    const inTraining = defineSpec({ singleValuePerChannel: 'error-in-training' });
    expect(() => engine().train(inTraining, state(), one)).toThrow(SingleValuePerChannelError);
    expect(() => engine().evaluate(inTraining, state(), one).dispose()).not.toThrow();
  });

  it('a mask without spec.masked is a SpecError naming "masked"', () => {
    const mask = engine().fromHost(filled([4, 1], 1));
    expect(thrown(SpecError, () => engine().train(spec, state(), x(), { mask })).field).toBe('masked');
  });

  it('a mask that does not broadcast is a ShapeError naming its shape', () => {
    const masked = defineSpec({ masked: true });
    const mask = engine().fromHost(filled([2, 3], 1));
    expect(thrown(ShapeError, () => engine().train(masked, state(), x(), { mask })).actual).toEqual([2, 3]);
  });

  it('a cotangent of another shape is a ShapeError', () => {
    const dy = engine().fromHost(filled([3, 4], 1));
    expect(thrown(ShapeError, () => engine().vjp(spec, state(), x(), dy, 'train')).actual).toEqual([3, 4]);
  });

  it('replica groups that do not cover every replica are a SpecError', () => {
    const error = thrown(SpecError, () => engine().train(spec, state(), x(), { replicas: { groups: [[0, 1]] } }));
    expect(error.field).toBe('replicas.groups');
  });

  it('leaves nothing allocated when it refuses a call (the checks run before any kernel)', () => {
    const xs = x();
    const wrong = state(initialState(spec, [4]));
    const mask = engine().fromHost(filled([2, 3], 1));
    const before = tf.memory().numTensors;
    expect(() => engine().train(spec, wrong, xs)).toThrow(StateError);
    expect(() => engine().evaluate(defineSpec({ masked: true }), state(), xs, { mask })).toThrow(ShapeError);
    expect(tf.memory().numTensors).toBe(before + 4); // only the four tensors of state() above
  });
});
