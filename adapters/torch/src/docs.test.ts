/** Runs every `// example:` block of docs/pytorch.md and checks the values its comments state. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CheckpointValue, HostTensor, Int64Tensor } from '@normbridge/core';
import { docExamples, runExample } from '@normbridge/testing';
import { expectClose } from './test-support/engines.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = docExamples(`${root}docs/pytorch.md`);

const vals = (t: unknown) => Array.from((t as HostTensor).data);
const first3 = (t: unknown) => vals(t).slice(0, 3);
const TRAIN_Y0 = [-0.50709139, -0.1005037, -0.65465305];
const EVAL_Y0 = [0.75574404, 1.35145799, 2.01594571];
const MEAN = [0.175, 0.225, 0.45];
const VAR = [1.19166667, 1.725, 1.6];

const checks: Record<string, (m: Record<string, unknown>) => void> = {
  'train-eval': (m) => {
    expectClose(first3(m['y']), TRAIN_Y0, 1e-7);
    expectClose(vals(m['runningMean']), MEAN, 1e-12);
    expectClose(vals(m['runningVar']), VAR, 1e-7);
    expect(m['numBatchesTracked']).toBe(1);
    expectClose(first3(m['yEval']), EVAL_Y0, 1e-7);
  },
  'momentum-none': (m) => {
    expectClose(vals(m['runningMean']), [1.75, 2.25, 4.5], 1e-12);
    expectClose(vals(m['runningVar']), [2.9166667, 8.25, 7], 1e-7);
  },
  'track-running-stats': (m) => {
    expect(m['untrackedKeys']).toEqual(['weight', 'bias']);
    expectClose(first3(m['yEvalUntracked']), TRAIN_Y0, 1e-7);
    expect(m['frozenCount']).toBe(1);
  },
  'state-dict': (m) => {
    expect(m['keys']).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const counter = m['counter'] as Int64Tensor;
    expect([counter.dtype, counter.shape, counter.data[0]]).toEqual(['int64', [], 1n]);
    expect(m['report']).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(m['message']).toMatch(
      /^Error\(s\) in loading state_dict for BatchNorm2d:\n\tsize mismatch for weight: copying a param with shape \[3\] from checkpoint, the shape in current model is \[4\]\.\n\t/,
    );
    expect(m['partial']).toEqual({ missingKeys: ['bias', 'running_mean', 'running_var'], unexpectedKeys: [] });
  },
  'missing-counter': (m) => {
    expect(m['kept']).toBe(1);
    expect(m['reset']).toBe(0);
  },
  functional: (m) => {
    expectClose(vals(m['rm']), MEAN, 1e-12);
    expectClose(vals(m['rv']), VAR, 1e-7);
    expectClose(first3(m['yEval']), EVAL_Y0, 1e-7);
    expect(m['message']).toBe('running_mean must be defined in evaluation mode');
  },
  sync: (m) => {
    expect((m['y'] as HostTensor).shape).toEqual([2, 2, 3]);
    expectClose(vals(m['runningVar']), VAR, 1e-7);
    expectClose(vals(m['raggedMean']), MEAN, 1e-12);
  },
  tfjs: (m) => {
    expectClose(vals(m['runningVar'] as CheckpointValue), VAR, 1e-5);
  },
};

describe('docs/pytorch.md examples', () => {
  it('every example is checked and every check has an example', () => {
    expect(examples.map((e) => e.name).sort()).toEqual(Object.keys(checks).sort());
  });

  it.each(examples)('runs "$name" and gives the documented values', async (example) => {
    checks[example.name]!(await runExample(root, '@normbridge/torch', example));
  });
});
