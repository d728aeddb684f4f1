import { describe, expect, it } from 'vitest';
import { FixtureError } from './fixture-schema.js';
import { modelTensorReferences, parseModelFixtureManifest } from './model-fixture-schema.js';

function valid(): Record<string, any> {
  return {
    format: 'normbridge-fixture/1',
    kind: 'model',
    case: 'linen_docstring_usage',
    description: 'init, apply, eval',
    framework: { name: 'flax-linen', version: '0.12.8' },
    producer: { name: 'flax', version: '0.12.8', kind: 'real-framework', generator: 'fixtures/generators/flax_seed_programs.py', notes: '' },
    program: { name: 'linen-docstring-usage', source: 'docstring', config: { momentum: 0.9 } },
    dtype: 'float32',
    tensors: 'tensors.safetensors',
    initialState: { 'params/scale': 'i/s', 'batch_stats/mean': 'i/m' },
    steps: [
      { method: 'init', call: { key: 0 }, inputs: { x: 'x0' }, outputs: {}, state: { 'params/scale': 'i/s', 'batch_stats/mean': 'i/m' } },
      { method: 'apply', inputs: { x: 'x1' }, outputs: { y: 'y1' }, state: { 'params/scale': 'i/s', 'batch_stats/mean': 's1/m' } },
    ],
    tolerance: { atol: 1e-5, rtol: 1e-5, reason: 'float32', state: { atol: 1e-6, rtol: 1e-5 } },
  };
}

function fieldOf(m: unknown): string {
  try {
    parseModelFixtureManifest(m);
  } catch (e) {
    expect(e).toBeInstanceOf(FixtureError);
    return (e as FixtureError).field;
  }
  throw new Error('expected a rejection');
}

describe('model-level fixture schema', () => {
  it('parses a valid manifest and lists its tensors with their roles', () => {
    const m = parseModelFixtureManifest(valid());
    expect(m.program.name).toBe('linen-docstring-usage');
    expect(modelTensorReferences(m)).toContainEqual({ field: 'steps.1.outputs.y', name: 'y1', role: 'output' });
  });

  it('rejects a program normbridge has no port of, and a program of another framework', () => {
    const m = valid();
    m['program'].name = 'my-resnet';
    expect(fieldOf(m)).toBe('program.name');
    const n = valid();
    n['framework'].name = 'flax-nnx';
    expect(fieldOf(n)).toBe('framework.name');
  });

  it('rejects a method the program does not have, and wrong inputs or outputs', () => {
    const m = valid();
    m['steps'][1].method = 'fit';
    expect(fieldOf(m)).toBe('steps.1.method');
    const n = valid();
    n['steps'][1].outputs = { logits: 'y1' };
    expect(fieldOf(n)).toBe('steps.1.outputs');
  });

  it('requires every state path of initialState in every step, and no others', () => {
    const m = valid();
    delete m['steps'][1].state['batch_stats/mean'];
    expect(fieldOf(m)).toBe('steps.1.state.batch_stats/mean');
    const n = valid();
    n['steps'][0].state['opt_state/0/count'] = 'c';
    expect(fieldOf(n)).toBe('steps.0.state.opt_state/0/count');
  });

  it('rejects unknown keys and a missing kind', () => {
    const m = valid();
    m['layer'] = {};
    expect(fieldOf(m)).toBe('layer');
    const n = valid();
    delete n['kind'];
    expect(fieldOf(n)).toBe('kind');
  });
});
