/**
 * tf.Tensor leaves without TF.js in the adapter: they are handled through core's `'tf'` tensor
 * kind, which `@normbridge/tfjs` registers on import. This file deliberately imports neither
 * `@normbridge/tfjs` nor test-support (which would register the kind) until the last test.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { tensorKindNamed, UnregisteredTensorKindError } from '@normbridge/core';
import { isLeaf } from './leaf.js';
import { shapeOf, treeMapShapes } from './index.js';

// A real tf.Tensor handle with no data behind it: tfjs-core alone has no backend, and reading a
// shape needs none.
const shaped = (shape: number[]) => new tf.Tensor(shape, 'float32', {}, 0);

describe('tf.Tensor leaves before @normbridge/tfjs is imported', () => {
  it('are refused with a typed error naming the import that fixes it', () => {
    expect(tensorKindNamed('tf')).toBeUndefined();
    const t = shaped([2, 3]);
    for (const read of [() => shapeOf(t), () => isLeaf(t), () => treeMapShapes({ params: { scale: t } })]) {
      let caught: unknown;
      try {
        read();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(UnregisteredTensorKindError);
      expect((caught as UnregisteredTensorKindError).providedBy).toBe('@normbridge/tfjs');
      expect((caught as Error).message).toContain("import '@normbridge/tfjs'");
    }
  });

  it('are leaves once @normbridge/tfjs has been imported', async () => {
    await import('@normbridge/tfjs');
    expect(tensorKindNamed('tf')?.name).toBe('tf');
    const t = shaped([2, 3]);
    expect(isLeaf(t)).toBe(true);
    expect(shapeOf(t)).toEqual([2, 3]);
    expect(treeMapShapes({ params: { scale: t } })).toEqual({ params: { scale: [2, 3] } });
  });
});
