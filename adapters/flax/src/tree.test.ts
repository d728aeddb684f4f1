import { describe, expect, it } from 'vitest';
import { filled, hostTensor } from '@normbridge/core';
import { flattenDict, prettyRepr, treeLeaves, treeMapShapes, unflattenDict, unreplicate } from './tree.js';
import { leafValues } from './leaf.js';

const h = (shape: number[], v = 0) => filled(shape, v);

describe('tree utilities', () => {
  it('prints the guide "No BatchNorm" tree exactly', () => {
    const vars = { params: { Dense_1: { kernel: h([4, 1]), bias: h([1]) }, Dense_0: { kernel: h([3, 4]), bias: h([4]) } } };
    expect(prettyRepr(treeMapShapes(vars))).toBe(
      [
        'FrozenDict({',
        "  'params': {",
        "    'Dense_0': {",
        "        'bias': (4,),",
        "        'kernel': (3, 4),",
        '    },',
        "    'Dense_1': {",
        "        'bias': (1,),",
        "        'kernel': (4, 1),",
        '    },',
        '  },',
        '})',
      ].join('\n'),
    );
  });

  it('prints leaves directly and as a bare dict', () => {
    expect(prettyRepr({ a: h([]), b: { c: h([2, 3]) } }, { wrapper: 'dict' })).toBe(
      ['{', "    'a': (),", "  'b': {", "      'c': (2, 3),", '  },', '}'].join('\n'),
    );
  });

  it('flattens with sep "/" like flax.traverse_util', () => {
    const vars = { params: { BatchNorm_0: { scale: h([3]), bias: h([3]) } }, batch_stats: { BatchNorm_0: { mean: h([3]), var: h([3]) } } };
    expect(Object.keys(flattenDict(vars, '/'))).toEqual([
      'batch_stats/BatchNorm_0/mean',
      'batch_stats/BatchNorm_0/var',
      'params/BatchNorm_0/bias',
      'params/BatchNorm_0/scale',
    ]);
    expect(treeLeaves(unflattenDict(flattenDict(vars, '/'))).map(([p]) => p.join('.'))).toEqual(
      treeLeaves(vars).map(([p]) => p.join('.')),
    );
  });

  it('unreplicate takes replica 0 of every leaf', () => {
    const t = unreplicate({ BatchNorm_0: { mean: hostTensor([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)) } });
    const leaf = (t['BatchNorm_0'] as Record<string, unknown>)['mean'];
    expect(leafValues(leaf)).toEqual([1, 2, 3]);
  });
});
