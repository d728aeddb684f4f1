/**
 * The ONNX fixtures written from torch.onnx.export models (torch_onnx_fixtures.py) against the
 * committed model files: importBatchNorms reads from each model exactly the layer the fixture
 * replays (node attributes, initial state, training mode). The replay itself is the conformance
 * run (every engine); together they take a torch-exported model from file to engine.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importBatchNorms } from '@normbridge/onnx';
import { listFixtureDirs, loadFixture } from './fixture-load.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const GENERATOR = 'fixtures/generators/torch_onnx_fixtures.py';
const all = await Promise.all((await listFixtureDirs(FIXTURES)).filter((d) => d.startsWith('onnx/')).map((d) => loadFixture(join(FIXTURES, d))));
const exported = all.filter((f) => f.manifest.producer.generator === GENERATOR);

describe('ONNX fixtures from torch.onnx.export models', () => {
  it('cover BatchNorm1d and BatchNorm2d, training and eval export modes, both exporters', () => {
    const cases = exported.map((f) => f.manifest.case).sort();
    expect(cases.length).toBeGreaterThanOrEqual(5);
    expect(cases.some((c) => c.includes('bn1d_train'))).toBe(true);
    expect(cases.some((c) => c.includes('bn1d_eval'))).toBe(true);
    expect(cases.some((c) => c.includes('bn2d_train'))).toBe(true);
    expect(cases.some((c) => c.includes('bn2d_eval'))).toBe(true);
    expect(cases.some((c) => c.includes('dynamo'))).toBe(true);
  });

  it.each(exported.map((f) => [f.manifest.case, f] as const))('%s: importBatchNorms reads the fixture\'s layer from the model', (name, f) => {
    const [bn, ...rest] = importBatchNorms(readFileSync(join(FIXTURES, 'onnx-models', `${name}.onnx`)));
    expect(rest).toHaveLength(0);
    const args = f.manifest.layer.args as { epsilon: number; momentum: number };
    expect(bn!.opset).toBe(f.manifest.framework.opset);
    expect(bn!.spec.epsilon).toBe(args.epsilon);
    expect(bn!.spec.runningAverage).toEqual({ kind: 'exponential', oldValueWeight: args.momentum });
    expect(bn!.spec.featureAxes).toEqual([1]);
    expect(bn!.trainingMode).toBe(f.manifest.steps.every((s) => (s.call as { training_mode: number }).training_mode === 1));
    const values = (key: string) => Array.from(f.tensors.get(f.manifest.initialState[key]!)!.data as Float32Array);
    expect(Array.from(bn!.state.scale!.data)).toEqual(values('scale'));
    expect(Array.from(bn!.state.bias!.data)).toEqual(values('B'));
    expect(Array.from(bn!.state.runningMean!.data)).toEqual(values('input_mean'));
    expect(Array.from(bn!.state.runningVar!.data)).toEqual(values('input_var'));
  });
});
