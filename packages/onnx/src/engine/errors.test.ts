import {
  defineSpec,
  filled,
  hostTensor,
  initialState,
  referenceTrain,
  ShapeError,
  SingleValuePerChannelError,
  SpecError,
  StateError,
  UnsupportedError,
} from '@normbridge/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { expectClose } from '@normbridge/testing';
import { randomTensor, TOL } from '../test-support/data.js';
import { createOrtEngine } from './engine.js';

const engine = await createOrtEngine();
const spec = defineSpec({ featureAxes: [1] });
const state = engine.stateFromHost(initialState(spec, [3]));
const x = engine.fromHost(randomTensor([4, 3, 2], 1));

describe('typed errors name what is at fault', () => {
  it('state shaped unlike the features: StateError naming the key', async () => {
    const bad = { ...state, runningVar: engine.fromHost(filled([4], 1)) };
    await expect(engine.train(spec, bad, x)).rejects.toMatchObject({ constructor: StateError, key: 'runningVar' });
  });

  it('state missing for the call: StateError', async () => {
    await expect(engine.evaluate(spec, { ...state, runningMean: undefined }, x)).rejects.toMatchObject({ key: 'runningMean' });
  });

  it('NaN or negative running variance entering from the host: StateError', () => {
    const host = initialState(spec, [3]);
    expect(() => engine.stateFromHost({ ...host, runningVar: hostTensor([3], [1, NaN, 1]) })).toThrow(StateError);
    expect(() => engine.stateFromHost({ ...host, runningVar: hostTensor([3], [1, -1, 1]) })).toThrow(/negative variance/);
  });

  it('a feature axis out of range: SpecError on featureAxes', async () => {
    await expect(engine.train(defineSpec({ featureAxes: [5] }), state, x)).rejects.toMatchObject({ constructor: SpecError, field: 'featureAxes' });
  });

  it('a mask the spec does not allow, or of the wrong shape', async () => {
    const mask = engine.fromHost(filled([4, 3, 2], 1));
    await expect(engine.train(spec, state, x, { mask })).rejects.toMatchObject({ constructor: SpecError, field: 'masked' });
    const masked = defineSpec({ featureAxes: [1], masked: true });
    await expect(engine.train(masked, state, x, { mask: engine.fromHost(filled([5, 1], 1)) })).rejects.toThrow(ShapeError);
  });

  it("one value per channel where the spec says PyTorch's error", async () => {
    const torch = defineSpec({ featureAxes: [1], singleValuePerChannel: 'error' });
    await expect(engine.train(torch, state, engine.fromHost(filled([1, 3], 1)))).rejects.toThrow(SingleValuePerChannelError);
  });

  it('a non-float input, a non-float state tensor, a mis-shaped cotangent', async () => {
    const ints = new ort.Tensor('int32', Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    await expect(engine.train(spec, state, ints)).rejects.toThrow(UnsupportedError);
    await expect(engine.train(spec, { ...state, scale: new ort.Tensor('int32', Int32Array.from([1, 1, 1]), [3]) }, x)).rejects.toMatchObject({ constructor: StateError, key: 'scale' });
    await expect(engine.vjp(spec, state, x, engine.fromHost(filled([4, 3], 1)), 'train')).rejects.toThrow(/cotangent/);
  });

  it('an invalid cache size: SpecError', async () => {
    await expect(createOrtEngine({ maxCachedSessions: 0 })).rejects.toMatchObject({ field: 'maxCachedSessions' });
  });

  it('supports() answers no, with the reason, for an input the spec cannot take', () => {
    expect(engine.supports(spec, 'train', [4, 3])).toEqual({ ok: true });
    const no = engine.supports(spec, 'train', []);
    expect(no.ok).toBe(false);
    expect(engine.supports(spec, 'train', [4, 3], { gradients: true }).ok).toBe(true);
  });
});

describe('mixed dtypes', () => {
  it('float64 input with float32 state computes in float64 (state cast exactly)', async () => {
    const host = initialState(spec, [3]);
    const x64 = randomTensor([4, 3, 2], 9, 'float64');
    const out = await engine.train(spec, engine.stateFromHost(host), engine.fromHost(x64));
    const ref = referenceTrain(spec, host, x64);
    expectClose(await engine.toHost(out.y), ref.y, TOL.float64, 'y');
    expectClose(await engine.toHost(out.state.runningVar!), ref.state.runningVar!, TOL.float64, 'runningVar');
    expect(out.y.type).toBe('float64');
  });

  it('fromHost widens float16 to float32; capabilities say so', () => {
    expect(engine.fromHost(hostTensor([2], [1, 2], 'float16')).type).toBe('float32');
    expect(engine.capabilities).toEqual({ gradients: true, dtypes: ['float32', 'float64'], masks: true, crossReplica: true, arithmetic: 'input' });
    expect(engine.name).toBe('ort-node');
  });
});
