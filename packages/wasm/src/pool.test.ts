import { describe, expect, it } from 'vitest';
import { partStart } from './pool.js';

describe('partStart', () => {
  it.each([
    [10, 3],
    [7, 7],
    [5, 1],
    [1000, 4],
  ])('splits %i units into %i parts that cover them once, sizes differing by at most 1', (units, parts) => {
    const starts = Array.from({ length: parts + 1 }, (_, p) => partStart(units, parts, p));
    expect(starts[0]).toBe(0);
    expect(starts[parts]).toBe(units);
    const sizes = starts.slice(1).map((s, p) => s - starts[p]!);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});
