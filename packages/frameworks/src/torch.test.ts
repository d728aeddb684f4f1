import { describe, expect, it } from 'vitest';
import { torchSpec, type TorchSpecArgs } from './torch.js';

const base: TorchSpecArgs = { eps: 1e-5, momentum: 0.1, scale: true, bias: true, updatesRunningStatistics: true, evalUsesBatchStatistics: false };

/** One changed value per field; the Record makes a field missing here a type error. */
const changed = {
  eps: 1e-3,
  momentum: 0.2,
  scale: false,
  bias: false,
  updatesRunningStatistics: false,
  evalUsesBatchStatistics: true,
  singleValuePerChannel: 'allowed',
  masked: true,
} satisfies Record<keyof TorchSpecArgs, unknown>;

describe('torchSpec remembers the last arguments', () => {
  it('returns the same spec object for equal arguments in a new object', () => {
    expect(torchSpec({ ...base })).toBe(torchSpec({ ...base }));
  });
  it.each(Object.keys(changed) as (keyof TorchSpecArgs)[])('a change of %s alone gives another spec', (field) => {
    const before = torchSpec({ ...base });
    const after = torchSpec({ ...base, [field]: changed[field] } as TorchSpecArgs);
    expect(after).not.toBe(before);
    expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
    expect(torchSpec({ ...base })).toBe(before);
  });
});
