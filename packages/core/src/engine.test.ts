import { describe, expect, it } from 'vitest';
import { asAsyncEngine, requireEngineDtype, requireSync, toHostAsync } from './engine.js';
import { ShapeError, UnsupportedDtypeError, UnsupportedError } from './errors.js';
import { createReferenceEngine } from './host-engine.js';
import { hostTensor } from './tensor.js';

const float32Only = { name: 'tfjs-cpu', capabilities: { gradients: true, dtypes: ['float32'] as const, masks: true, crossReplica: true, arithmetic: 'input' as const } };

describe('requireEngineDtype', () => {
  it('refuses float64 on a float32-only engine with a typed error naming engine and dtype', () => {
    let err: unknown;
    try {
      requireEngineDtype(float32Only, 'float64', 'BatchNorm2d(dtype=torch.float64)');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedDtypeError);
    expect((err as UnsupportedDtypeError).engine).toBe('tfjs-cpu');
    expect((err as UnsupportedDtypeError).dtype).toBe('float64');
    expect((err as Error).message).toMatch(/^BatchNorm2d\(dtype=torch\.float64\): engine "tfjs-cpu" cannot compute float64 \(it computes float32 only\)/);
  });

  it('lets float64 through where the engine has it, and float32/float16 everywhere', () => {
    expect(() => requireEngineDtype(createReferenceEngine(), 'float64')).not.toThrow();
    expect(() => requireEngineDtype(float32Only, 'float32')).not.toThrow();
    expect(() => requireEngineDtype(float32Only, 'float16')).not.toThrow();
  });
});

describe('tensor handling of the reference engine (and asAsyncEngine, which forwards it)', () => {
  const t = hostTensor([2, 3], [1, 2, 3, 4, 5, 6], 'float64');
  for (const engine of [createReferenceEngine(), asAsyncEngine(createReferenceEngine())]) {
    it(`${engine.name}: owns host tensors only`, () => {
      expect(engine.owns(t)).toBe(true);
      expect(engine.owns({ shape: [1], data: [1] })).toBe(false);
      expect(engine.owns(null)).toBe(false);
    });

    it(`${engine.name}: reshape keeps the values, refuses another size`, () => {
      const r = engine.reshape(t, [3, 2]);
      expect(r.shape).toEqual([3, 2]);
      expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(r.dtype).toBe('float64');
      expect(() => engine.reshape(t, [4])).toThrow(ShapeError);
      expect(() => engine.reshape(t, [-6])).toThrow(/reshape into \[-6\]/);
    });

    it(`${engine.name}: row takes one slice of the leading axis`, () => {
      expect(Array.from(engine.row(t, 1).data)).toEqual([4, 5, 6]);
      expect(engine.row(t, 0).shape).toEqual([3]);
      expect(() => engine.row(t, 2)).toThrow(ShapeError);
      expect(() => engine.row(hostTensor([], [1]), 0)).toThrow(/a scalar/);
    });
  }
});

describe('requireSync', () => {
  it('returns a synchronous engine; names the call and its async twin otherwise', () => {
    const engine = createReferenceEngine();
    expect(requireSync(engine, 'forward()', 'forwardAsync()')).toBe(engine);
    const async = asAsyncEngine(engine);
    expect(() => requireSync(async, 'forward()', 'forwardAsync()')).toThrow(UnsupportedError);
    expect(() => requireSync(async, 'forward()', 'forwardAsync()')).toThrow(
      'forward() on engine "reference-f64-async" is not supported: this engine is asynchronous; await forwardAsync() instead',
    );
  });
});

describe('toHostAsync', () => {
  it('reads back from a synchronous and an asynchronous engine alike', async () => {
    const t = hostTensor([2], [1, 2], 'float64');
    const sync = createReferenceEngine();
    expect(Array.from((await toHostAsync(sync, sync.fromHost(t))).data)).toEqual([1, 2]);
    const async = asAsyncEngine(sync);
    expect(Array.from((await toHostAsync(async, async.fromHost(t))).data)).toEqual([1, 2]);
  });
});
