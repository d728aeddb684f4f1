import { defineSpec, initialState, referenceTrain } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { expectClose } from '@normbridge/testing';
import { randomTensor, TOL } from '../test-support/data.js';
import { createOrtEngine } from './engine.js';

describe('session cache', () => {
  it('builds one model per graph key: momentum, counter and data are inputs, not keys', async () => {
    const engine = await createOrtEngine();
    const x = engine.fromHost(randomTensor([4, 3, 5], 1));
    const cumulative = defineSpec({ featureAxes: [1], runningAverage: { kind: 'cumulative' }, runningVarianceEstimator: 'unbiased' });
    let state = engine.stateFromHost(initialState(cumulative, [3]));
    for (let i = 0; i < 3; i++) state = (await engine.train(cumulative, state, x)).state;
    expect(engine.cacheStats.modelsBuilt).toBe(1);
    // Another momentum, other data: same graph.
    const ema = defineSpec({ featureAxes: [1], runningAverage: { kind: 'exponential', oldValueWeight: 0.5 }, runningVarianceEstimator: 'unbiased' });
    await engine.train(ema, state, engine.fromHost(randomTensor([4, 3, 5], 2)));
    expect(engine.cacheStats.modelsBuilt).toBe(1);
    // Another shape, another mode, another epsilon: new graphs.
    await engine.train(ema, state, engine.fromHost(randomTensor([2, 3, 5], 3)));
    await engine.evaluate(ema, state, x);
    await engine.evaluate(defineSpec({ ...ema, epsilon: 1e-3 }), state, x);
    expect(engine.cacheStats).toEqual({ modelsBuilt: 4, sessions: 4 });
  });

  it('concurrent calls with one key share one session', async () => {
    const engine = await createOrtEngine();
    const spec = defineSpec({ featureAxes: [-1] });
    const state = engine.stateFromHost(initialState(spec, [3]));
    await Promise.all([1, 2, 3, 4].map((s) => engine.train(spec, state, engine.fromHost(randomTensor([5, 3], s)))));
    expect(engine.cacheStats.modelsBuilt).toBe(1);
  });

  it('evicts the least recently used session beyond maxCachedSessions, and still computes right', async () => {
    const engine = await createOrtEngine({ maxCachedSessions: 2 });
    const spec = defineSpec({ featureAxes: [-1] });
    const hostState = initialState(spec, [3]);
    const state = engine.stateFromHost(hostState);
    for (const n of [2, 3, 4, 2]) {
      const x = randomTensor([n, 3], n);
      const out = await engine.train(spec, state, engine.fromHost(x));
      expectClose(await engine.toHost(out.y), referenceTrain(spec, hostState, x).y, TOL.float32, `y for n=${n}`);
    }
    expect(engine.cacheStats).toEqual({ modelsBuilt: 4, sessions: 2 });
    await engine.release();
    expect(engine.cacheStats.sessions).toBe(0);
  });
});
