import { describe, expect, it } from 'vitest';
import { FixtureError, FixtureManifestSchema, parseFixtureManifest, tensorReferences } from './fixture-schema.js';

function validManifest(): Record<string, any> {
  return {
    format: 'normbridge-fixture/1',
    case: 'bn1d_nc_defaults',
    description: 'BatchNorm1d(3) on (4, 3): one training step, then eval.',
    framework: { name: 'torch', version: '2.5.1' },
    producer: {
      name: 'torch',
      version: '2.5.1',
      kind: 'real-framework',
      generator: 'fixtures/generators/torch_fixtures.py',
      notes: '',
    },
    layer: { class: 'BatchNorm1d', args: { num_features: 3, eps: 1e-5, momentum: 0.1, affine: true, track_running_stats: true } },
    dtype: 'float32',
    layout: 'NC',
    tensors: 'tensors.safetensors',
    initialState: {
      weight: 'initial/weight',
      bias: 'initial/bias',
      running_mean: 'initial/running_mean',
      running_var: 'initial/running_var',
      num_batches_tracked: 'initial/num_batches_tracked',
    },
    steps: [
      {
        mode: 'train',
        call: { training: true },
        input: 'steps/0/input',
        output: 'steps/0/output',
        state: {
          weight: 'initial/weight',
          bias: 'initial/bias',
          running_mean: 'steps/0/state/running_mean',
          running_var: 'steps/0/state/running_var',
          num_batches_tracked: 'steps/0/state/num_batches_tracked',
        },
        cotangent: 'steps/0/cotangent',
        gradients: { input: 'steps/0/gradients/input', weight: 'steps/0/gradients/weight', bias: 'steps/0/gradients/bias' },
      },
      {
        mode: 'train',
        call: { training: true },
        input: 'steps/1/input',
        error: { type: 'ValueError', message: 'Expected more than 1 value per channel when training, got input size torch.Size([1, 3])' },
      },
    ],
    tolerance: { atol: 1e-5, rtol: 1e-5, reason: 'float32' },
  };
}

function fieldOf(m: unknown): string {
  try {
    parseFixtureManifest(m, 'manifest.json');
  } catch (e) {
    expect(e).toBeInstanceOf(FixtureError);
    expect((e as FixtureError).message).toContain((e as FixtureError).field);
    return (e as FixtureError).field;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('FixtureManifestSchema', () => {
  it('parses a valid manifest', () => {
    const m = parseFixtureManifest(validManifest());
    expect(m.steps).toHaveLength(2);
    expect(m.steps[1]!.error?.type).toBe('ValueError');
    expect(FixtureManifestSchema.safeParse(validManifest()).success).toBe(true);
  });

  it('lists every tensor reference with its field', () => {
    const refs = tensorReferences(parseFixtureManifest(validManifest()));
    expect(refs).toContainEqual({ field: 'steps.0.gradients.weight', name: 'steps/0/gradients/weight' });
    expect(refs).toContainEqual({ field: 'initialState.num_batches_tracked', name: 'initial/num_batches_tracked' });
    expect(refs.filter((r) => r.field.startsWith('steps.1'))).toEqual([{ field: 'steps.1.input', name: 'steps/1/input' }]);
  });

  it('names the field of a wrong format version', () => {
    const m = validManifest();
    m['format'] = 'normbridge-fixture/2';
    expect(fieldOf(m)).toBe('format');
  });

  it('names an unknown framework', () => {
    const m = validManifest();
    m['framework'].name = 'caffe';
    expect(fieldOf(m)).toBe('framework.name');
  });

  it('names an unknown producer kind', () => {
    const m = validManifest();
    m['producer'].kind = 'guess';
    expect(fieldOf(m)).toBe('producer.kind');
  });

  it('names a state key that is not the framework’s variable name', () => {
    const m = validManifest();
    m['steps'][0].state.moving_mean = 'x';
    expect(fieldOf(m)).toBe('steps.0.state.moving_mean');
  });

  it('requires every variable in a step’s state', () => {
    const m = validManifest();
    delete m['steps'][0].state.running_var;
    expect(fieldOf(m)).toBe('steps.0.state.running_var');
  });

  it('requires exactly one of output and error', () => {
    const m = validManifest();
    m['steps'][0].error = { type: 'ValueError', message: 'x' };
    expect(fieldOf(m)).toBe('steps.0.output');
    const n = validManifest();
    delete n['steps'][1].error;
    expect(fieldOf(n)).toBe('steps.1.output');
  });

  it('requires the state after a step with an output', () => {
    const m = validManifest();
    delete m['steps'][0].state;
    expect(fieldOf(m)).toBe('steps.0.state');
  });

  it('requires cotangent and gradients together', () => {
    const m = validManifest();
    delete m['steps'][0].cotangent;
    expect(fieldOf(m)).toBe('steps.0.gradients');
  });

  it('rejects a gradient for something that is not a parameter', () => {
    const m = validManifest();
    m['steps'][0].gradients.running_mean = 'g';
    expect(fieldOf(m)).toBe('steps.0.gradients.running_mean');
  });

  it('rejects an unknown top-level key, naming it', () => {
    const m = validManifest();
    m['expected'] = {};
    expect(fieldOf(m)).toBe('expected');
  });

  it('rejects camelCase arguments for a Python framework and snake_case for TF.js', () => {
    const m = validManifest();
    m['layer'].args = { numFeatures: 3 };
    expect(fieldOf(m)).toBe('layer.args.numFeatures');
    const t = validManifest();
    t['framework'] = { name: 'tfjs-layers', version: '4.22.0' };
    t['layer'] = { class: 'BatchNormalization', args: { moving_mean_initializer: 'zeros' } };
    expect(fieldOf(t)).toBe('layer.args.moving_mean_initializer');
  });

  it('requires an opset for ONNX and featureAxes for a custom layout', () => {
    const m = validManifest();
    m['framework'] = { name: 'onnx', version: 'opset-15' };
    expect(fieldOf(m)).toBe('framework.opset');
    const c = validManifest();
    c['layout'] = 'custom';
    expect(fieldOf(c)).toBe('featureAxes');
  });

  it('rejects a negative tolerance and a missing reason', () => {
    const m = validManifest();
    m['tolerance'].atol = -1;
    expect(fieldOf(m)).toBe('tolerance.atol');
    const n = validManifest();
    delete n['tolerance'].reason;
    expect(fieldOf(n)).toBe('tolerance.reason');
  });

  it('rejects a mask for a framework without masks', () => {
    const m = validManifest();
    m['steps'][0].mask = 'steps/0/mask';
    expect(fieldOf(m)).toBe('steps.0.mask');
  });

  it('reports the file in the message', () => {
    const m = validManifest();
    m['dtype'] = 'int8';
    expect(() => parseFixtureManifest(m, 'fixtures/torch/x/manifest.json')).toThrow(/fixtures\/torch\/x\/manifest.json: fixture field "dtype"/);
  });
});
