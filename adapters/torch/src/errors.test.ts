/** Every PyTorch error docs/semantics.md names, one test each: class, Python type and message. */
import { describe, expect, it } from 'vitest';
import { SingleValuePerChannelError, SpecError } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d, BatchNorm3d, LazyBatchNorm2d } from './batchnorm.js';
import {
  StateDictLoadError,
  TorchIndexError,
  TorchRuntimeError,
  TorchSingleValuePerChannelError,
  TorchValueError,
  type TorchError,
} from './errors.js';
import { batchNorm } from './functional.js';
import { SyncBatchNorm } from './sync-batchnorm.js';
import { t64, X43 } from './test-support/engines.js';

const zeros = (shape: number[]) => t64(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5));

/** Runs `f` and returns what it threw. */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

function expectPython(e: Error, cls: new (...a: never[]) => Error, pythonType: string, message: string) {
  expect(e).toBeInstanceOf(cls);
  expect((e as TorchError).pythonType).toBe(pythonType);
  expect(e.message).toBe(message);
}

describe('_check_input_dim (ValueError)', () => {
  it.each([
    [() => new BatchNorm1d(3), [3], 'expected 2D or 3D input (got 1D input)'],
    [() => new BatchNorm1d(3), [2, 3, 4, 5], 'expected 2D or 3D input (got 4D input)'],
    [() => new BatchNorm2d(3), [2, 3, 4], 'expected 4D input (got 3D input)'],
    [() => new BatchNorm2d(3), [2, 3, 4, 5, 6], 'expected 4D input (got 5D input)'],
    [() => new BatchNorm3d(3), [2, 3, 4, 5], 'expected 5D input (got 4D input)'],
    [() => new LazyBatchNorm2d(), [2, 3], 'expected 4D input (got 2D input)'],
  ] as const)('%#: %s', (make, shape, message) => {
    expectPython(thrown(() => make().forward(zeros([...shape]))), TorchValueError, 'ValueError', message);
  });

  it('SyncBatchNorm: at least 2D per replica', () => {
    const e = thrown(() => new SyncBatchNorm(3).forward(zeros([2, 3])));
    expectPython(e, TorchValueError, 'ValueError', 'expected at least 2D input (got 1D input)');
  });

  it('SyncBatchNorm: channel count non-zero', () => {
    const e = thrown(() => new SyncBatchNorm(0).forward(zeros([2, 4, 0])));
    expectPython(e, TorchValueError, 'ValueError', 'SyncBatchNorm number of input channels should be non-zero');
  });
});

describe('one value per channel (ValueError)', () => {
  const message = 'Expected more than 1 value per channel when training, got input size [1, 3]';

  it('raised in training', () => {
    const e = thrown(() => new BatchNorm1d(3).forward(zeros([1, 3])));
    expectPython(e, TorchSingleValuePerChannelError, 'ValueError', message);
    expect(e).toBeInstanceOf(SingleValuePerChannelError);
  });

  it('raised for [1, C, 1, 1] too', () => {
    const e = thrown(() => new BatchNorm2d(3).forward(zeros([1, 3, 1, 1])));
    expect(e.message).toBe('Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]');
  });

  it('raised in eval without buffers (batch statistics), not in eval with them', () => {
    const untracked = new BatchNorm1d(3, { trackRunningStats: false }).eval();
    expectPython(thrown(() => untracked.forward(zeros([1, 3]))), TorchSingleValuePerChannelError, 'ValueError', message);
    expect(() => new BatchNorm1d(3).eval().forward(zeros([1, 3]))).not.toThrow();
  });

  it('not raised for one sample with more than one position', () => {
    expect(() => new BatchNorm1d(3).forward(zeros([1, 3, 2]))).not.toThrow();
  });

  it('functional batch_norm raises it only when training', () => {
    expectPython(thrown(() => batchNorm(zeros([1, 3]), null, null, { training: true })), TorchSingleValuePerChannelError, 'ValueError', message);
    expect(() => batchNorm(zeros([1, 3]), zeros([3]), zeros([3]))).not.toThrow();
  });

  it('SyncBatchNorm raises it for a replica alone in its group, not for a group of two', () => {
    expectPython(thrown(() => new SyncBatchNorm(3).forward(zeros([1, 1, 3]))), TorchSingleValuePerChannelError, 'ValueError', message);
    expect(() => new SyncBatchNorm(3).forward(t64([2, 1, 3], [1, 2, 3, 4, 5, 7]))).not.toThrow();
  });
});

describe('F.batch_norm / ATen argument errors (RuntimeError)', () => {
  it('running_mean must be defined in evaluation mode', () => {
    expectPython(thrown(() => batchNorm(zeros([4, 3]), null, zeros([3]))), TorchRuntimeError, 'RuntimeError', 'running_mean must be defined in evaluation mode');
  });

  it('running_var must be defined in evaluation mode', () => {
    expectPython(thrown(() => batchNorm(zeros([4, 3]), zeros([3]), undefined)), TorchRuntimeError, 'RuntimeError', 'running_var must be defined in evaluation mode');
  });

  it.each([
    ['running_mean', () => batchNorm(zeros([4, 3]), zeros([4]), zeros([3]))],
    ['running_var', () => batchNorm(zeros([4, 3]), zeros([3]), zeros([4]))],
    ['weight', () => batchNorm(zeros([4, 3]), null, null, { training: true, weight: zeros([4]) })],
    ['bias', () => batchNorm(zeros([4, 3]), zeros([3]), zeros([3]), { bias: zeros([4]) })],
  ])('%s should contain C elements not K (functional)', (name, f) => {
    expectPython(thrown(f), TorchRuntimeError, 'RuntimeError', `${name} should contain 3 elements not 4`);
  });

  it('module: the input channel count is checked against the buffers, then weight', () => {
    const bn = new BatchNorm1d(4);
    expectPython(thrown(() => bn.forward(t64([4, 3], X43))), TorchRuntimeError, 'RuntimeError', 'running_mean should contain 3 elements not 4');
    bn.trackRunningStats = false; // buffers are no longer passed in training
    expect(thrown(() => bn.forward(t64([4, 3], X43))).message).toBe('weight should contain 3 elements not 4');
  });

  it('F.batch_norm has no rank check, but needs a dimension 1 (IndexError)', () => {
    expectPython(
      thrown(() => batchNorm(zeros([4]), null, null, { training: true })),
      TorchIndexError,
      'IndexError',
      'Dimension out of range (expected to be in range of [-1, 0], but got 1)',
    );
    expect(() => batchNorm(zeros([2, 3, 2, 2, 2, 2]), null, null, { training: true })).not.toThrow();
  });
});

describe('state_dict loading (RuntimeError)', () => {
  it('size mismatch names the key and both shapes', () => {
    const bn = new BatchNorm2d(3);
    const e = thrown(() => bn.loadStateDict({ ...bn.stateDict(), running_mean: t64([4], [0, 0, 0, 0]) }));
    expectPython(
      e,
      StateDictLoadError,
      'RuntimeError',
      'Error(s) in loading state_dict for BatchNorm2d:\n\tsize mismatch for running_mean: copying a param with shape [4] from checkpoint, the shape in current model is [3].',
    );
  });

  it('missing keys (strict)', () => {
    const bn = new BatchNorm2d(3);
    const { running_var: _v, bias: _b, ...partial } = bn.stateDict();
    const e = thrown(() => bn.loadStateDict(partial)) as StateDictLoadError;
    expectPython(e, StateDictLoadError, 'RuntimeError', 'Error(s) in loading state_dict for BatchNorm2d:\n\tMissing key(s) in state_dict: "bias", "running_var". ');
    expect(e.missingKeys).toEqual(['bias', 'running_var']);
  });

  it('unexpected keys (strict)', () => {
    const bn = new BatchNorm1d(3, { affine: false });
    const e = thrown(() => bn.loadStateDict({ ...new BatchNorm1d(3).stateDict(), extra: t64([1], [0]) })) as StateDictLoadError;
    expectPython(
      e,
      StateDictLoadError,
      'RuntimeError',
      'Error(s) in loading state_dict for BatchNorm1d:\n\tUnexpected key(s) in state_dict: "weight", "bias", "extra". ',
    );
    expect(e.unexpectedKeys).toEqual(['weight', 'bias', 'extra']);
  });

  it('missing and unexpected together, then size mismatches, in PyTorch order', () => {
    const bn = new BatchNorm1d(3);
    const e = thrown(() => bn.loadStateDict({ weight: t64([2], [1, 1]), foo: t64([], [0]) }));
    expect(e.message).toBe(
      'Error(s) in loading state_dict for BatchNorm1d:\n' +
        '\tMissing key(s) in state_dict: "bias", "running_mean", "running_var". \n' +
        '\tUnexpected key(s) in state_dict: "foo". \n' +
        '\tsize mismatch for weight: copying a param with shape [2] from checkpoint, the shape in current model is [3].',
    );
  });
});

describe('option errors', () => {
  it('momentum outside [0, 1] is a SpecError naming momentum', () => {
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow(SpecError);
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow('"momentum"');
  });

  it('negative eps is a SpecError naming eps', () => {
    expect(() => new BatchNorm1d(3, { eps: -1 })).toThrow('"eps"');
  });

  it('negative num_features mirrors torch.empty', () => {
    expectPython(thrown(() => new BatchNorm1d(-1)), TorchRuntimeError, 'RuntimeError', 'Trying to create tensor with negative dimension -1: [-1]');
  });
});
