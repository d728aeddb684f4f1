import { describe, expect, it } from 'vitest';
import { requireEngineDtype } from './engine.js';
import { UnsupportedDtypeError } from './errors.js';
import { createReferenceEngine } from './host-engine.js';

const float32Only = { name: 'tfjs-cpu', capabilities: { gradients: true, dtypes: ['float32'] as const, masks: true, crossReplica: true, arithmetic: 'input' as const } };

describe('requireEngineDtype', () => {
  it('refuses float64 on a float32-only engine with a typed error naming engine and dtype', () => {
    let err: unknown;
    try {
      requireEngineDtype(float32Only, 'float64', 'BatchNorm2d(dtype=torch.float64)');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedDtypeError);
    expect((err as UnsupportedDtypeError).engine).toBe('tfjs-cpu');
    expect((err as UnsupportedDtypeError).dtype).toBe('float64');
    expect((err as Error).message).toMatch(/^BatchNorm2d\(dtype=torch\.float64\): engine "tfjs-cpu" cannot compute float64 \(it computes float32 only\)/);
  });

  it('lets float64 through where the engine has it, and float32/float16 everywhere', () => {
    expect(() => requireEngineDtype(createReferenceEngine(), 'float64')).not.toThrow();
    expect(() => requireEngineDtype(float32Only, 'float32')).not.toThrow();
    expect(() => requireEngineDtype(float32Only, 'float16')).not.toThrow();
  });
});
