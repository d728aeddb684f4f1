import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, getDefaultEngine, type HostTensor } from '@normbridge/core';
import { docExamples, runExample } from '@normbridge/testing';
import { expectClose } from '@normbridge/testing';
import { MLX_2D_RUNNING_VAR, MLX_2D_Y_EVAL, MLX_2D_Y_TRAIN } from './test-support/vectors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = docExamples(`${root}docs/mlx.md`);
const engine = getDefaultEngine();
const arr = (t: unknown) => Array.from((engine.synchronous ? engine.toHost(t) : (t as HostTensor)).data);

const checks: Record<string, (m: Record<string, unknown>) => void> = {
  docstring: (m) => expectClose(arr(m['output']), MLX_2D_Y_TRAIN, 1e-4),
  versions: (m) => {
    expectClose(arr(m['yTrain']), MLX_2D_Y_TRAIN, 1e-4);
    expectClose(arr(m['runningVar']), MLX_2D_RUNNING_VAR['0.32.1'], 1e-4);
    expectClose(arr(m['yEval']), MLX_2D_Y_EVAL['0.32.1'], 1e-4);
    expectClose(arr(m['oldRunningVar']), MLX_2D_RUNNING_VAR['0.32.0'], 1e-4);
  },
  untracked: (m) => expect(m['keys']).toEqual(['weight', 'bias']),
  freezing: (m) => {
    expect(m['before']).toEqual(['bn.weight', 'bn.bias']);
    expect(m['trapped']).toEqual(['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']);
    expect(m['fixed']).toEqual(['bn.weight', 'bn.bias']);
  },
  checkpoint: (m) => {
    expect((m['weights'] as [string][]).map(([k]) => k)).toEqual(['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']);
    expect(m['error']).toBe('Missing 3 parameters: \nbn.bias,\nbn.running_mean,\nbn.running_var.');
  },
};

describe('docs/mlx.md examples', () => {
  it('has every checked example', () => {
    expect(examples.map((e) => e.name).sort()).toEqual(Object.keys(checks).sort());
    expect(engine.name).toBe(createReferenceEngine().name);
  });
  it.each(examples)('runs "$name" and gives MLX\'s values', async (example) => {
    checks[example.name]!(await runExample(root, '@normbridge/mlx', example));
  });
});
