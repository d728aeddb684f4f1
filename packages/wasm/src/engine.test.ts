import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defineSpec,
  fromBatchWeightMomentum,
  initialState,
  referenceTrain,
  referenceVjp,
  ShapeError,
  StateError,
  UnsupportedError,
  type BatchNormSpec,
  type HostTensor,
} from '@normbridge/core';
import { expectClose, mismatch, normals, PROPERTY_TOLERANCE } from '@normbridge/testing';
import { createWasmEngine, type WasmEngine } from './engine.js';
import { WasmMemoryError } from './heap.js';

const torchSpec = (featureAxes: number[]): BatchNormSpec =>
  defineSpec({ featureAxes, epsilon: 1e-5, runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased' });
const host = (shape: number[], seed: number, center = 0, dtype: 'float32' | 'float64' = 'float32'): HostTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = normals(n, seed).map((v) => center + 2 * v);
  return { shape, data: dtype === 'float64' ? values : Float32Array.from(values), dtype };
};

let one: WasmEngine;
let two: WasmEngine;
beforeAll(async () => {
  one = await createWasmEngine({ threads: 1 });
  two = await createWasmEngine({ threads: 2 });
});
afterAll(async () => {
  await one.close();
  await two.close();
});

describe('nb-wasm on tensors large enough to split over threads', () => {
  // 104,960 elements: two parts of at least the default 32,768 each. Odd sizes reach the
  // kernels' scalar tails; NC has 13 channels.
  const CASES = [
    { layout: 'NCHW', shape: [4, 16, 40, 41], featureAxes: [1], channels: 16 },
    { layout: 'NHWC', shape: [4, 40, 41, 16], featureAxes: [-1], channels: 16 },
    { layout: 'NC', shape: [8074, 13], featureAxes: [-1], channels: 13 },
  ];
  it.each(CASES)('$layout: train and vjp match the reference, on 1 and 2 threads', ({ shape, featureAxes, channels }) => {
    const spec = torchSpec(featureAxes);
    const x = host(shape, 1, 3);
    const dy = host(shape, 2);
    const state = initialState(spec, [channels]);
    state.scale!.data.set(host([channels], 3, 1).data);
    const ref = referenceTrain(spec, state, x);
    const refGrad = referenceVjp(spec, state, x, dy, 'train');
    for (const engine of [one, two]) {
      const before = engine.memory().liveBytes;
      const s = engine.stateFromHost(state);
      const [ex, edy] = [engine.fromHost(x), engine.fromHost(dy)];
      const out = engine.train(spec, s, ex);
      const g = engine.vjp(spec, s, ex, edy, 'train');
      const pairs: [string, unknown, HostTensor][] = [
        ['y', out.y, ref.y],
        ['batchMean', out.batchMean, ref.batchMean],
        ['batchVar', out.batchVar, ref.batchVar],
        ['runningMean', out.state.runningMean, ref.state.runningMean!],
        ['runningVar', out.state.runningVar, ref.state.runningVar!],
        ['dx', g.dx, refGrad.dx],
        ['dScale', g.dScale, refGrad.dScale!],
        ['dBias', g.dBias, refGrad.dBias!],
      ];
      const problems = pairs.map(([label, t, expected]) => mismatch(engine.toHost(t as never), expected, PROPERTY_TOLERANCE, `${engine.threads} threads ${label}`));
      expect(problems.filter(Boolean)).toEqual([]);
      engine.dispose(ex, edy, out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar, g.dx, g.dScale, g.dBias);
      engine.dispose(s.scale, s.bias, s.runningMean, s.runningVar);
      expect(engine.memory().liveBytes).toBe(before);
    }
  });

  it.each(CASES)('$layout: the same bits on 1 and 2 threads (sums are split by chunks, not threads)', ({ shape, featureAxes, channels }) => {
    const spec = torchSpec(featureAxes);
    const x = host(shape, 12, 3);
    const dy = host(shape, 13);
    const state = initialState(spec, [channels]);
    const results = [one, two].map((engine) => {
      const s = engine.stateFromHost(state);
      const [ex, edy] = [engine.fromHost(x), engine.fromHost(dy)];
      const out = engine.train(spec, s, ex);
      const g = engine.vjp(spec, s, ex, edy, 'train');
      const ts = [out.y, out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!, g.dx, g.dScale!, g.dBias!];
      const values = ts.map((t) => Array.from(engine.toHost(t).data));
      engine.dispose(ex, edy, ...ts, s.scale, s.bias, s.runningMean, s.runningVar);
      return values;
    });
    expect(results[1]).toEqual(results[0]);
  });

  it('keeps statistics exact on a large-mean channel split over threads (variance of a constant 1e8 is 0)', () => {
    const spec = torchSpec([1]);
    const shape = [8, 2, 100, 100];
    const x = host(shape, 4);
    x.data.fill(1e8, 0, 10_000); // channel 0 of the first sample; the others of channel 0 follow
    for (let n = 0; n < 8; n++) x.data.fill(1e8, n * 20_000, n * 20_000 + 10_000);
    const ex = two.fromHost(x);
    const s = two.stateFromHost(initialState(spec, [2]));
    const out = two.train(spec, s, ex);
    expect(two.toHost(out.batchVar).data[0]).toBe(0);
    expect(two.toHost(out.batchMean).data[0]).toBe(1e8);
    two.dispose(ex, out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar, s.scale, s.bias, s.runningMean, s.runningVar);
  });
});

describe('nb-wasm beyond the kernels', () => {
  it('computes float64 inputs in float64 (the reference itself, nothing rounded to float32)', () => {
    const spec = torchSpec([1]);
    const x = host([3, 4, 5], 5, 1, 'float64');
    const state = initialState(spec, [4], 'float64');
    const ref = referenceTrain(spec, state, x);
    const out = one.train(spec, one.stateFromHost(state), one.fromHost(x));
    expect(one.toHost(out.y)).toEqual(ref.y);
    expect(one.toHost(out.state.runningVar!)).toEqual(ref.state.runningVar);
  });

  it('reshape shares the values and is disposed on its own; row copies', () => {
    const before = one.memory().liveBytes;
    const t = one.fromHost({ shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6), dtype: 'float32' });
    const flat = one.reshape(t, [6]);
    const row = one.row(t, 1);
    one.dispose(t);
    expect(Array.from(one.toHost(flat).data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(one.toHost(row).data)).toEqual([4, 5, 6]);
    expect(() => one.toHost(t)).toThrow(UnsupportedError);
    one.dispose(flat, row);
    expect(one.memory().liveBytes).toBe(before);
    expect(() => one.reshape(flat, [7])).toThrow(ShapeError);
  });
});

describe('nb-wasm refuses bad input with typed errors and leaks nothing', () => {
  const spec = torchSpec([1]);

  it('takes only its own tensors: a host tensor or another engine\'s tensor is a ShapeError naming the argument', () => {
    const s = one.stateFromHost(initialState(spec, [2]));
    const x = host([2, 2, 3], 6);
    expect(() => one.train(spec, s, x as never)).toThrow(/input/);
    expect(() => one.train(spec, s, x as never)).toThrow(ShapeError);
    const foreign = two.fromHost(x);
    expect(() => one.evaluate(spec, s, foreign)).toThrow(ShapeError);
    const ex = one.fromHost(x);
    expect(() => one.vjp(spec, s, ex, one.fromHost(host([2, 2, 4], 7)), 'train')).toThrow(/cotangent/);
  });

  it('refuses a NaN running variance when the state is loaded', () => {
    const state = initialState(spec, [2]);
    state.runningVar!.data[1] = Number.NaN;
    expect(() => one.stateFromHost(state)).toThrow(StateError);
  });

  it('reading a disposed tensor is an UnsupportedError, and a call on one frees what it had made', () => {
    const s = one.stateFromHost(initialState(spec, [2]));
    const x = one.fromHost(host([2, 2, 3], 8));
    one.dispose(x);
    const before = one.memory().liveBytes;
    expect(() => one.train(spec, s, x)).toThrow(UnsupportedError);
    expect(one.memory().liveBytes).toBe(before);
  });

  it('a memory limit is a WasmMemoryError naming the request; a failed call frees its partial outputs', async () => {
    const small = await createWasmEngine({ threads: 1, maxMemoryBytes: 1 << 20 });
    expect(() => small.fromHost(host([1 << 19], 9))).toThrow(WasmMemoryError);
    expect(() => small.fromHost(host([1 << 19], 9))).toThrow(/2097152 bytes/);
    expect(small.memory().liveBytes).toBe(0);
    // x fits (400 KB) but x, y and the statistics do not all fit in 1 MiB with a second input.
    const s = small.stateFromHost(initialState(spec, [4]));
    const x = small.fromHost(host([100, 4, 250], 10));
    const pad = small.fromHost(host([100, 4, 250], 11));
    const live = small.memory().liveBytes;
    let error: unknown;
    try {
      small.train(spec, s, x);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmMemoryError);
    expect(small.memory().liveBytes).toBe(live);
    small.dispose(pad);
    const out = small.train(spec, s, x); // room again: the same call now succeeds
    expectClose(small.toHost(out.y).data, referenceTrain(spec, initialState(spec, [4]), host([100, 4, 250], 10)).y.data, 2e-5, 2e-5);
    await small.close();
  });

  it('refuses options it cannot honour', async () => {
    await expect(createWasmEngine({ threads: 0 })).rejects.toThrow(UnsupportedError);
    await expect(createWasmEngine({ threads: 1.5 })).rejects.toThrow(UnsupportedError);
    await expect(createWasmEngine({ maxMemoryBytes: 2 ** 32 })).rejects.toThrow(UnsupportedError);
    await expect(createWasmEngine({ chunkElements: 0 })).rejects.toThrow(UnsupportedError);
  });
});
