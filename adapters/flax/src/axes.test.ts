import { describe, expect, it } from 'vitest';
import { absoluteDims, canonicalizeAxes, pythonSetOrder } from './axes.js';

describe('pythonSetOrder (tuple(set(values)) in CPython)', () => {
  // Expected tuples printed by CPython 3.11.7 for `tuple(set(values))`.
  it.each([
    [[1, 8], [8, 1]],
    [[8, 1], [8, 1]],
    [[9, 1], [9, 1]],
    [[0, 8, 16], [0, 8, 16]],
    [[1, 9, 17, 2], [1, 2, 9, 17]],
    [[3, 11, 19, 27, 35], [3, 35, 11, 19, 27]],
    [[20, 4, 12, 28, 36, 44], [4, 36, 12, 44, 20, 28]],
    [[100, 3, 7], [3, 100, 7]],
    [[2, 10, 3, 11, 4, 12], [2, 3, 4, 10, 11, 12]],
    [[3, 1, 2, 1], [1, 2, 3]],
  ])('set(%j) iterates as %j', (values, order) => {
    expect(pythonSetOrder(values)).toEqual(order);
  });

  it('is ascending for distinct axes below 8', () => {
    expect(pythonSetOrder([7, 0, 5, 2, 6, 1, 4, 3])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('canonicalizeAxes (flax _canonicalize_axes)', () => {
  it('maps negatives and deduplicates', () => {
    expect(canonicalizeAxes(2, -1)).toEqual([1]);
    expect(canonicalizeAxes(4, [1, 2])).toEqual([1, 2]);
    expect(canonicalizeAxes(4, [2, 1])).toEqual([1, 2]);
    expect(canonicalizeAxes(3, [-1, 2])).toEqual([2]);
  });

  it('reproduces the set-order quirk for an axis >= 8 (docs/semantics.md#flax-linen)', () => {
    expect(canonicalizeAxes(9, [1, -1])).toEqual([8, 1]);
    expect(canonicalizeAxes(10, [9, 1])).toEqual([9, 1]);
  });

  it('legacy absoluteDims keeps the order', () => {
    expect(absoluteDims(4, [-1, 1])).toEqual([3, 1]);
  });
});
