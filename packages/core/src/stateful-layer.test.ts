import { describe, expect, it } from 'vitest';
import { asAsyncEngine, type SyncEngine } from './engine.js';
import { UnsupportedError } from './errors.js';
import { createReferenceEngine } from './host-engine.js';
import { initialState } from './reference.js';
import { LayerState } from './stateful-layer.js';
import { STATE_TENSOR_KEYS, stateTensorsOf } from './state.js';
import { defineSpec } from './spec.js';
import { hostTensor, transpose, type HostTensor } from './tensor.js';

const x = hostTensor([4, 2], [1, 2, 3, 5, 0, 1, 2, 8], 'float64');

/** The reference engine recording what it is asked to dispose. */
function recording(): { engine: SyncEngine<HostTensor>; disposed: unknown[] } {
  const disposed: unknown[] = [];
  return { engine: { ...createReferenceEngine(), dispose: (...t) => disposed.push(...t) }, disposed };
}

describe('LayerState', () => {
  it('training commits new running stats and disposes the replaced ones; eval leaves them', () => {
    const spec = defineSpec({});
    const { engine, disposed } = recording();
    const layer = new LayerState(engine, initialState(spec, [2], 'float64'));
    const before = layer.state.runningMean;
    layer.run(spec, 'train', x);
    expect(layer.state.runningMean).not.toBe(before);
    expect(disposed).toContain(before);
    expect(layer.state.numBatchesTracked).toBe(1);
    // The reference's running mean after one step from zeros: 0.1 * batch mean.
    const [m0, m1] = layer.state.runningMean!.data;
    expect(m0).toBeCloseTo(0.1 * 1.5, 12);
    expect(m1).toBeCloseTo(0.1 * 4, 12);
    const after = layer.state;
    layer.run(spec, 'eval', x);
    expect(layer.state).toBe(after);
  });

  it('each call runs the spec it is given', () => {
    const { engine } = recording();
    const spec = defineSpec({});
    const layer = new LayerState(engine, initialState(spec, [2], 'float64'));
    const plain = layer.run(spec, 'eval', x);
    const shifted = layer.run(defineSpec({ epsilon: 1 }), 'eval', x);
    expect(Array.from(shifted.data)).not.toEqual(Array.from(plain.data));
  });

  it('a commit hook decides what is kept; what it drops is disposed once', () => {
    const spec = defineSpec({});
    const { engine, disposed } = recording();
    const layer = new LayerState(engine, initialState(spec, [2], 'float64'));
    const old = layer.state;
    let engineState: typeof old | undefined;
    layer.run(spec, 'train', x, {
      commit: (next) => {
        engineState = next;
        return { ...old, numBatchesTracked: next.numBatchesTracked };
      },
    });
    expect(layer.state.runningMean).toBe(old.runningMean);
    expect(layer.state.numBatchesTracked).toBe(1);
    expect(disposed).toContain(engineState!.runningMean);
    expect(disposed).toContain(engineState!.runningVar);
    expect(disposed).not.toContain(old.runningMean);
    expect(new Set(disposed).size).toBe(disposed.length);
  });

  it('sync calls on an async engine fail with a typed error; async calls work', async () => {
    const spec = defineSpec({});
    const layer = new LayerState(asAsyncEngine(createReferenceEngine()), initialState(spec, [2], 'float64'));
    expect(() => layer.run(spec, 'train', x)).toThrow(UnsupportedError);
    expect(() => layer.run(spec, 'train', x)).toThrow(/await runAsync\(\) instead/);
    await layer.runAsync(spec, 'train', x);
    expect(layer.state.numBatchesTracked).toBe(1);
  });
});

describe('transpose', () => {
  it('NCHW → NHWC moves channels last', () => {
    const t = hostTensor([1, 2, 1, 3], [0, 1, 2, 10, 11, 12]);
    const out = transpose(t, [0, 2, 3, 1]);
    expect(out.shape).toEqual([1, 1, 3, 2]);
    expect(Array.from(out.data)).toEqual([0, 10, 1, 11, 2, 12]);
  });
});

describe('LayerState views', () => {
  it('the engine sees the view; view tensors the layer does not hold are disposed once; the stored state keeps its shape', () => {
    const spec = defineSpec({ featureAxes: [1, 2] });
    const { engine, disposed } = recording();
    const layer = new LayerState(engine, initialState(spec, [4], 'float64'));
    const stored = layer.state;
    const x4 = hostTensor([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 9], 'float64');
    const toLayout = (t: HostTensor | undefined) => (t === undefined ? undefined : engine.reshape(t, [2, 2]));
    const view = (s: typeof stored) => ({ ...s, scale: toLayout(s.scale), bias: toLayout(s.bias), runningMean: toLayout(s.runningMean), runningVar: toLayout(s.runningVar) });
    let seen: typeof stored | undefined;
    layer.run(spec, 'eval', x4, { view: (s) => (seen = view(s)) });
    expect(disposed).toEqual(expect.arrayContaining([seen!.scale, seen!.bias, seen!.runningMean, seen!.runningVar]));
    expect(disposed).not.toContain(stored.scale);
    disposed.length = 0;
    layer.run(spec, 'train', x4, {
      view: (s) => (seen = view(s)),
      commit: (next) => ({ ...stored, runningMean: engine.reshape(next.runningMean!, [4]), runningVar: engine.reshape(next.runningVar!, [4]), numBatchesTracked: next.numBatchesTracked }),
    });
    expect(layer.state.runningMean!.shape).toEqual([4]);
    expect(layer.state.scale).toBe(stored.scale);
    expect(disposed).toContain(stored.runningMean);
    expect(disposed).toContain(seen!.runningMean);
    expect(new Set(disposed).size).toBe(disposed.length);
  });
});

describe('stateTensorsOf', () => {
  it('reads every state tensor, in STATE_TENSOR_KEYS order', () => {
    const state = { scale: 's', bias: 'b', runningMean: 'm', runningVar: 'v', numBatchesTracked: 0 };
    expect(stateTensorsOf(state)).toEqual(STATE_TENSOR_KEYS.map((k) => state[k]));
  });
});
