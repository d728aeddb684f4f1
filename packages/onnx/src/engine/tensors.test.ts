import { describe, expect, it } from 'vitest';
import { createReferenceEngine, hostTensor, ShapeError } from '@normbridge/core';
import { createOrtEngine } from './engine.js';

describe('ORT engine tensor handling: owns, reshape, row', () => {
  for (const backend of ['node', 'web-wasm'] as const) {
    const pending = createOrtEngine({ backend, intraOpNumThreads: 1 });

    it(`${backend}: owns its tensors only`, async () => {
      const engine = await pending;
      const t = engine.fromHost(hostTensor([2], [1, 2]));
      expect(engine.owns(t)).toBe(true);
      expect(engine.owns(hostTensor([2], [1, 2]))).toBe(false);
      expect(engine.owns(createReferenceEngine().fromHost(hostTensor([1], [0])))).toBe(false);
      engine.dispose(t);
    });

    it(`${backend}: reshape keeps the values and the dtype; another size is a ShapeError`, async () => {
      const engine = await pending;
      const t = engine.fromHost(hostTensor([2, 3], [1, 2, 3, 4, 5, 6], 'float64'));
      const r = engine.reshape(t, [3, 2]);
      expect(engine.shapeOf(r)).toEqual([3, 2]);
      const host = await engine.toHost(r);
      expect(Array.from(host.data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(host.dtype).toBe((await engine.toHost(t)).dtype);
      expect(() => engine.reshape(t, [7])).toThrow(ShapeError);
    });

    it(`${backend}: row copies one slice of the leading axis (it outlives the stack)`, async () => {
      const engine = await pending;
      const t = engine.fromHost(hostTensor([3, 2], [1, 2, 3, 4, 5, 6]));
      const r = engine.row(t, 1);
      engine.dispose(t);
      expect(engine.shapeOf(r)).toEqual([2]);
      expect(Array.from((await engine.toHost(r)).data)).toEqual([3, 4]);
      expect(() => engine.row(r, 2)).toThrow(ShapeError);
    });
  }
});
