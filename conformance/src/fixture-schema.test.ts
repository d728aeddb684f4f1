import { describe, expect, it } from 'vitest';
import { FixtureError, FixtureManifestSchema, parseFixtureManifest, tensorReferences, toleranceOfKind } from './fixture-schema.js';

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

  it('requires one of output, error, or a loss with state', () => {
    const m = validManifest();
    m['steps'][0].error = { type: 'ValueError', message: 'x' };
    expect(fieldOf(m)).toBe('steps.0.output');
    const n = validManifest();
    delete n['steps'][1].error;
    expect(fieldOf(n)).toBe('steps.1.output');
  });

  it('accepts a step that records only a loss and the state (train_on_batch), and checks it', () => {
    const m = validManifest();
    const step = m['steps'][0];
    delete step.output;
    delete step.cotangent;
    delete step.gradients;
    step.target = 'steps/0/target';
    step.loss = 'steps/0/loss';
    const parsed = parseFixtureManifest(m);
    expect(parsed.steps[0]!.loss).toBe('steps/0/loss');
    expect(tensorReferences(parsed)).toContainEqual({ field: 'steps.0.loss', name: 'steps/0/loss' });
    const noState = structuredClone(m);
    delete noState['steps'][0].state;
    expect(fieldOf(noState)).toBe('steps.0.state');
    const noTarget = structuredClone(m);
    delete noTarget['steps'][0].target;
    expect(fieldOf(noTarget)).toBe('steps.0.target');
    const withCotangent = structuredClone(m);
    withCotangent['steps'][0].cotangent = 'c';
    withCotangent['steps'][0].gradients = { input: 'g' };
    expect(fieldOf(withCotangent)).toBe('steps.0.cotangent');
  });

  it('takes a tolerance per kind of value, falling back to the default', () => {
    const m = validManifest();
    m['tolerance'].state = { atol: 1e-8, rtol: 1e-6, reason: 'statistics of a variance near 1e-4' };
    m['tolerance'].gradients = { atol: 1e-3, rtol: 1e-3 };
    const t = parseFixtureManifest(m).tolerance;
    expect(toleranceOfKind(t, 'state')).toEqual({ atol: 1e-8, rtol: 1e-6 });
    expect(toleranceOfKind(t, 'gradients')).toEqual({ atol: 1e-3, rtol: 1e-3 });
    expect(toleranceOfKind(t, 'output')).toEqual({ atol: 1e-5, rtol: 1e-5 });
    m['tolerance'].weights = { atol: 0, rtol: 0 };
    expect(fieldOf(m)).toBe('tolerance.weights');
    const n = validManifest();
    n['tolerance'].output = { atol: -1, rtol: 0 };
    expect(fieldOf(n)).toBe('tolerance.output.atol');
  });

  it('makes a recorded framework bug an explicit field; the tag alone is rejected', () => {
    const m = validManifest();
    m['tags'] = ['framework-bug'];
    expect(fieldOf(m)).toBe('frameworkBug');
    m['frameworkBug'] = { description: 'crashes in training (tensorflow/tfjs#2868)', compareWith: 'float64-reference' };
    expect(parseFixtureManifest(m).frameworkBug?.compareWith).toBe('float64-reference');
    m['frameworkBug'].compareWith = 'recorded';
    expect(fieldOf(m)).toBe('frameworkBug.compareWith');
  });

  it('has a producer kind for values computed by another framework', () => {
    const m = validManifest();
    m['framework'] = { name: 'mlx', version: '0.32.1' };
    m['producer'] = { ...m['producer'], name: 'torch', kind: 'cross-framework', notes: "MLX's test asserts MLX matches torch" };
    m['layer'] = { class: 'BatchNorm', args: { num_features: 3 } };
    m['initialState'] = { weight: 'w', bias: 'b', running_mean: 'm', running_var: 'v' };
    for (const s of m['steps']) {
      if (s.state) s.state = { ...m['initialState'] };
      if (s.gradients) s.gradients = { input: 'g' };
    }
    expect(parseFixtureManifest(m).producer.kind).toBe('cross-framework');
  });

  it('has layouts that do not fix the rank, and a Keras backend', () => {
    const m = validManifest();
    m['layout'] = 'NC*';
    expect(parseFixtureManifest(m).layout).toBe('NC*');
    m['framework'].backend = 'jax';
    expect(fieldOf(m)).toBe('framework.backend');
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

  it('rejects a mask for a framework without masks (torch), not for Keras 3', () => {
    const m = validManifest();
    m['steps'][0].mask = 'steps/0/mask';
    expect(fieldOf(m)).toBe('steps.0.mask');
    const k = validManifest();
    k['framework'] = { name: 'keras', version: '3.15.1', backend: 'tensorflow' };
    k['layer'] = { class: 'BatchNormalization', args: { axis: -1 } };
    k['initialState'] = { gamma: 'g', beta: 'b', moving_mean: 'm', moving_variance: 'v' };
    k['steps'] = [{ mode: 'train', call: { training: true }, input: 'x', mask: 'k', output: 'y', state: { ...k['initialState'] } }];
    expect(parseFixtureManifest(k).steps[0]!.mask).toBe('k');
  });

  it('reports the file in the message', () => {
    const m = validManifest();
    m['dtype'] = 'int8';
    expect(() => parseFixtureManifest(m, 'fixtures/torch/x/manifest.json')).toThrow(/fixtures\/torch\/x\/manifest.json: fixture field "dtype"/);
  });
});
