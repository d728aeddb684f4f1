/** The version profiles: torch 1.13 and torch 2.13 differ only in F.batch_norm's eps check. */
import { describe, expect, it } from 'vitest';
import { SpecError } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d } from './batchnorm.js';
import { TorchValueError } from './errors.js';
import { batchNorm } from './functional.js';
import { SyncBatchNorm } from './sync-batchnorm.js';
import { t64, X43 } from './test-support/engines.js';
import { TORCH_VERSIONS, TorchVersion, torchVersionTraits } from './index.js';

const MESSAGE = 'batch_norm eps must be positive during training, but got 0.0';
const x = () => t64([4, 3], X43);

describe('torch version profiles', () => {
  it('2.13 (the default) refuses eps = 0 in training with PyTorch 2 wording, after counting the call', () => {
    const bn = new BatchNorm1d(3, { eps: 0 });
    expect(bn.version).toBe('2.13');
    expect(() => bn.forward(x())).toThrow(new TorchValueError(MESSAGE));
    expect(() => bn.forward(x())).toThrow(expect.objectContaining({ pythonType: 'ValueError' }));
    // Counted twice (two failed calls), running statistics untouched.
    expect(bn.numBatchesTracked).toBe(2);
    expect(Array.from(bn.runningMean!.data)).toEqual([0, 0, 0]);
    // Eval with running buffers computes no batch statistics: no check.
    bn.eval();
    expect(bn.forward(x()).shape).toEqual([4, 3]);
  });

  it('2.13 checks wherever batch statistics are computed: eval without buffers, F.batch_norm, a lone SyncBatchNorm replica', () => {
    const untracked = new BatchNorm1d(3, { eps: 0, trackRunningStats: false }).eval();
    expect(() => untracked.forward(x())).toThrow(MESSAGE);
    expect(() => batchNorm(x(), null, null, { training: true, eps: 0 })).toThrow(MESSAGE);
    expect(batchNorm(x(), null, null, { training: true, eps: 0, version: '1.13' }).output.shape).toEqual([4, 3]);
    const sync = new SyncBatchNorm(3, { eps: 0, processGroup: [[0], [1]] });
    expect(() => sync.forward(t64([2, 4, 3], [...X43, ...X43]))).toThrow(MESSAGE);
  });

  it('the one-value-per-channel check comes first, as in F.batch_norm', () => {
    const bn = new BatchNorm1d(3, { eps: 0 });
    expect(() => bn.forward(t64([1, 3], [1, 2, 3]))).toThrow(/Expected more than 1 value per channel/);
  });

  it('1.13 trains with eps = 0 (normalising by the batch variance alone)', () => {
    const bn = new BatchNorm2d(1, { eps: 0, version: TorchVersion.zeroEpsAllowed });
    const y = bn.forward(t64([2, 1, 1, 2], [1, 3, 5, 7]));
    const sd = Math.sqrt(5); // biased variance of 1, 3, 5, 7
    expect(Array.from(y.data).map((v) => Number(v.toFixed(12)))).toEqual([-3, -1, 1, 3].map((d) => Number((d / sd).toFixed(12))));
    expect(bn.numBatchesTracked).toBe(1);
  });

  it('traits per version; an unknown version is a SpecError naming the field', () => {
    expect(TORCH_VERSIONS.map((v) => torchVersionTraits(v).positiveEpsInTraining)).toEqual([false, true]);
    expect(() => new BatchNorm1d(3, { version: '2.0' as never })).toThrow(SpecError);
    expect(() => new BatchNorm1d(3, { version: '2.0' as never })).toThrow(/version/);
  });
});
