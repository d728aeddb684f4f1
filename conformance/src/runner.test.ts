import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BatchNormSpec, Engine } from '@normbridge/core';
import { createReferenceEngine } from '@normbridge/core';
import { createEngineByName, type EngineName } from '@normbridge/engines';
import { formatMatrix, exitCodeOf } from './matrix.js';
import { FLOAT32_ROUNDING_TAG, loadFixtures, runCase, runConformance } from './runner.js';
import { describeFailure } from './results.js';

/** Fixtures recording a framework bug (their frameworkBug field); normbridge must not reproduce them. */
const BUG_RECORDS = [
  'keras/torch_large_mean',
  'tfjs-layers/tfjs_axis1_cpu_backend_bug',
  'tfjs-layers/tfjs_center_false_training_error',
  'tfjs-layers/tfjs_scale_false_training_error',
];
/**
 * Fixtures tagged float32-rounding: Flax's one-pass variance of a mean-1000 channel, which float32
 * cancels to exactly 0 (fixtures/README.md). Every engine that rounds to float32 must match them;
 * on the float64 reference, and only there, they are n/a (it computes the true variance).
 */
const FLOAT32_ROUNDING = [
  'flax-legacy/legacy_large_mean_unclamped',
  'flax-linen/linen_large_mean_fast_variance',
  'flax-nnx/nnx_large_mean_fast_variance',
];
/**
 * Model-level fixtures whose TypeScript port computes in TF.js around the BatchNorm: n/a on the
 * engines whose tensors are not tf.Tensors (ONNX Runtime, nb-wasm); the float64 reference runs
 * them seen through TF.js (bindings/models.ts).
 */
const TF_ONLY_MODELS = ['models/flax_guide_train_state', 'models/flax_guide_two_classes'];
const runsTfModels = (engine: EngineName) => engine.startsWith('tfjs-') || engine === 'reference-f64';
const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));

describe('every committed fixture passes', () => {
  for (const engine of ['reference-f64', 'tfjs-cpu', 'tfjs-wasm', 'nb-wasm', 'ort-node', 'ort-web-wasm'] as EngineName[]) {
    it(`on ${engine}`, async () => {
      const capabilities = (await createEngineByName(engine)).capabilities;
      const float64Arithmetic = capabilities.arithmetic === 'float64';
      const { fixtures } = await loadFixtures([FIXTURES]);
      // float64 fixtures on a float32-only engine: refused by core's capability check, n/a.
      const float64 = capabilities.dtypes.includes('float64')
        ? []
        : fixtures.filter((f) => f.manifest.dtype === 'float64').map((f) => `${f.manifest.framework.name}/${f.manifest.case}`);
      const report = await runConformance({ fixtureDirs: [FIXTURES], engines: [engine] });
      const failures = report.results.filter((r) => r.status === 'fail').map(describeFailure);
      expect(report.invalid).toEqual([]);
      expect(failures).toEqual([]);
      // n/a only where listed: float32 rounding on the float64 reference; the Flax training port off TF.js.
      const notApplicable = report.results.filter((r) => r.status === 'n/a');
      const expected = [...(float64Arithmetic ? FLOAT32_ROUNDING : []), ...(runsTfModels(engine) ? [] : TF_ONLY_MODELS), ...float64];
      expect(notApplicable.map((r) => r.fixture).sort()).toEqual(expected.sort());
      for (const r of notApplicable) {
        const why = FLOAT32_ROUNDING.includes(r.fixture)
          ? new RegExp(`^${FLOAT32_ROUNDING_TAG}: `)
          : float64.includes(r.fixture)
            ? new RegExp(`^UnsupportedDtypeError: a float64 fixture: engine "${engine}" cannot compute float64`)
            : /needs tf\.Tensor values/;
        expect(r.reason, r.fixture).toMatch(why);
      }
      if (!capabilities.dtypes.includes('float64')) expect(float64.length).toBeGreaterThan(0);
      // The model-level fixtures (the seed programs) ran through their ports.
      const modelResults = report.results.filter((r) => r.fixture.startsWith('models/'));
      expect(modelResults.length).toBeGreaterThanOrEqual(4);
      // Framework-bug records pass only by matching the float64 reference instead of the bug.
      const bugRecords = report.results.filter((r) => r.reason?.startsWith('framework bug not inherited'));
      expect(bugRecords.map((r) => r.fixture).sort()).toEqual(BUG_RECORDS);
      // Every framework has a binding: torch, mlx, keras, tfjs-layers, flax-linen/nnx/legacy, onnx.
      const frameworks = new Set(report.results.filter((r) => r.status === 'pass').map((r) => r.framework));
      expect([...frameworks].sort()).toEqual(['flax-legacy', 'flax-linen', 'flax-nnx', 'keras', 'mlx', 'onnx', 'tfjs-layers', 'torch']);
      expect(report.results.filter((r) => r.status === 'pass').length).toBeGreaterThan(70);
      expect(exitCodeOf(report)).toBe(0);
      expect(formatMatrix(report)).toMatch(/cases passed/);
    }, 180_000);
  }
});

/** Wraps an engine (synchronous or not) so that every spec it runs has one field forced to a wrong value. */
function planted(engine: Engine<any>, wrong: Partial<BatchNormSpec>): Engine<any> {
  const bend = (spec: BatchNormSpec) => ({ ...spec, ...wrong }) as BatchNormSpec;
  // Methods are called on the engine itself: ORT's engine is a class with private fields.
  const e = engine as Engine<any> & { synchronous: true };
  return {
    name: `${engine.name}+planted`,
    synchronous: engine.synchronous,
    capabilities: engine.capabilities,
    supports: (spec, mode, shape, o) => e.supports(spec, mode, shape, o),
    fromHost: (t) => e.fromHost(t),
    toHost: (t) => e.toHost(t),
    shapeOf: (t) => e.shapeOf(t),
    owns: (v: unknown) => e.owns(v),
    reshape: (t, shape) => e.reshape(t, shape),
    row: (t, i) => e.row(t, i),
    stateFromHost: (st) => e.stateFromHost(st),
    dispose: (...ts) => e.dispose(...ts),
    retain: (t) => e.retain(t),
    train: (spec, state, x, o) => e.train(bend(spec), state, x, o),
    evaluate: (spec, state, x, o) => e.evaluate(bend(spec), state, x, o),
    vjp: (spec, state, x, dy, m, o) => e.vjp(bend(spec), state, x, dy, m, o),
  } as Engine<any>;
}

describe('the suite catches semantic errors', () => {
  it('a biased running variance in the PyTorch profile fails, naming running_var', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['torch']);
    const wrong = planted(createReferenceEngine(), { runningVarianceEstimator: 'biased' });
    const results = await Promise.all(fixtures.map((f) => runCase(f, wrong)));
    const failed = results.filter((r) => r.status === 'fail');
    expect(failed.length).toBeGreaterThan(10);
    const messages = failed.map(describeFailure);
    expect(messages.some((m) => /state running_var: worst element/.test(m))).toBe(true);
    // Eval-only and error-only fixtures cannot see the estimator; every training fixture must.
    const trainingCases = fixtures.filter((f) => f.manifest.steps.some((s) => s.mode === 'train' && s.output && s.state?.running_var));
    for (const f of trainingCases) {
      expect(results.find((r) => r.fixture.endsWith(`/${f.manifest.case}`))!.status, f.manifest.case).toBe('fail');
    }
  });

  it('Flax-style momentum (decay) fed to a PyTorch-style layer fails', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['torch']);
    const wrong = planted(createReferenceEngine(), { runningAverage: { kind: 'exponential', oldValueWeight: 0.1 } });
    const r = await runCase(fixtures.find((f) => f.manifest.case === 'bn2d_defaults')!, wrong);
    expect(r.status).toBe('fail');
    expect(describeFailure(r)).toMatch(/running_mean|running_var/);
  });

  it('a PyTorch-style unbiased running variance fails every Flax training fixture, naming its variance', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['flax']);
    const unbiased = { runningVarianceEstimator: 'unbiased' } as const;
    const wrong = planted(createReferenceEngine(), unbiased);
    // Fixtures of float32 rounding are n/a on the float64 reference: they go through tfjs.
    const wrongInFloat32 = planted(await createEngineByName('tfjs-cpu'), unbiased);
    const training = fixtures.filter((f) => f.manifest.steps.some((s) => s.mode === 'train' && s.output && s.call['method'] !== 'init'));
    expect(training.length).toBeGreaterThan(12);
    for (const f of training) {
      const r = await runCase(f, f.manifest.tags?.includes(FLOAT32_ROUNDING_TAG) ? wrongInFloat32 : wrong);
      expect(r.status, f.manifest.case).toBe('fail');
      expect(describeFailure(r)).toMatch(/state (batch_stats\/var|var|state\/var)|output/);
    }
  });

  it('ONNX momentum read as a batch weight (PyTorch convention) fails the ONNX training fixtures', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['onnx']);
    const wrong = planted(createReferenceEngine(), { runningAverage: { kind: 'exponential', oldValueWeight: 0.1 } });
    const r = await runCase(fixtures.find((f) => f.manifest.case === 'onnx_training_nchw')!, wrong);
    expect(r.status).toBe('fail');
    expect(describeFailure(r)).toMatch(/input_mean|input_var/);
  });

  it('a bug record fails when the layer deviates from the float64 reference', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['tfjs-layers']);
    const axis1 = fixtures.find((f) => f.manifest.case === 'tfjs_axis1_cpu_backend_bug')!;
    const r = await runCase(axis1, planted(createReferenceEngine(), { epsilon: 0.5 }));
    expect(r.status).toBe('fail');
    expect(describeFailure(r)).toMatch(/vs float64 reference/);
  });

  it('a fixture whose frameworkBug field is set but whose recording shows no bug fails (the field is wrong)', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['tfjs-layers']);
    const plain = fixtures.find((f) => f.manifest.case === 'tfjs_defaults_semantics_10_2')!;
    const frameworkBug = { description: 'none really', compareWith: 'float64-reference' as const };
    const mislabelled = { ...plain, manifest: { ...plain.manifest, frameworkBug } };
    const r = await runCase(mislabelled, createReferenceEngine());
    expect(r.status).toBe('fail');
    expect(describeFailure(r)).toMatch(/recorded framework bug: frameworkBug is set, but every recorded step equals the float64 reference/);
  });

  it('the tag framework-bug alone changes nothing: the recorded values are compared', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['tfjs-layers']);
    const axis1 = fixtures.find((f) => f.manifest.case === 'tfjs_axis1_cpu_backend_bug')!;
    const { frameworkBug: _dropped, ...rest } = axis1.manifest;
    const r = await runCase({ ...axis1, manifest: rest }, createReferenceEngine());
    // The adapter computes axis 1 correctly, so the recorded (wrong) outputs are not matched.
    expect(r.status).toBe('fail');
    expect(describeFailure(r)).toMatch(/step 0 \(train\) output/);
  });

  it('each kind of value is held to its own tolerance', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['torch'], ['torch/bn2d_defaults']);
    const f = fixtures[0]!;
    // Planted epsilon error: outputs and gradients move by ~1e-3, the running statistics not at all.
    const wrong = planted(createReferenceEngine(), { epsilon: 2e-3 });
    const loose = { ...f.manifest.tolerance, output: { atol: 1e-1, rtol: 0 }, gradients: { atol: 1e-1, rtol: 0 } };
    const passes = await runCase({ ...f, manifest: { ...f.manifest, tolerance: loose } }, wrong);
    expect(passes.status, describeFailure(passes)).toBe('pass');
    const tightOutput = { ...f.manifest.tolerance, state: { atol: 1, rtol: 0 } };
    const fails = await runCase({ ...f, manifest: { ...f.manifest, tolerance: tightOutput } }, wrong);
    expect(describeFailure(fails)).toMatch(/output/);
    // Planted momentum error: the running statistics move (and the eval output with them).
    const drift = planted(createReferenceEngine(), { runningAverage: { kind: 'exponential', oldValueWeight: 0.5 } });
    const stateLoose = { ...f.manifest.tolerance, state: { atol: 10, rtol: 0 }, output: { atol: 10, rtol: 0 }, gradients: { atol: 10, rtol: 0 } };
    expect((await runCase({ ...f, manifest: { ...f.manifest, tolerance: stateLoose } }, drift)).status).toBe('pass');
    const stateTight = { ...f.manifest.tolerance, output: { atol: 10, rtol: 0 }, gradients: { atol: 10, rtol: 0 } };
    const stateFails = await runCase({ ...f, manifest: { ...f.manifest, tolerance: stateTight } }, drift);
    expect(describeFailure(stateFails)).toMatch(/state running_(mean|var)/);
  });

  it('selects cases by pattern and reports a tolerance override', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], undefined, ['torch/bn2d_*', 'onnx_inference_nchw']);
    const ids = fixtures.map((f) => `${f.manifest.framework.name}/${f.manifest.case}`);
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.every((id) => id.startsWith('torch/bn2d_') || id === 'onnx/onnx_inference_nchw')).toBe(true);
    expect(ids).toContain('onnx/onnx_inference_nchw');
    const { fixtures: none, models } = await loadFixtures([FIXTURES], undefined, ['models/linen_*']);
    expect(none).toEqual([]);
    expect(models.map((m) => m.manifest.case)).toEqual(['linen_docstring_usage']);
    const report = await runConformance({ fixtureDirs: [FIXTURES], engines: ['reference-f64'], cases: ['bn2d_defaults'], tolerance: { atol: 0.5 } });
    expect(report.results).toHaveLength(1);
    expect(report.results[0]!.widened).toMatch(/overridden on the command line \(atol 0.5\)/);
  });

  it('a float32-rounding fixture fails on tfjs, nb-wasm and ONNX Runtime when the engine computes the variance two-pass', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['flax']);
    for (const engineName of ['tfjs-cpu', 'tfjs-wasm', 'nb-wasm', 'ort-node'] as EngineName[]) {
      const engine = await createEngineByName(engineName);
      for (const name of FLOAT32_ROUNDING) {
        const fixture = fixtures.find((f) => `${f.manifest.framework.name}/${f.manifest.case}` === name)!;
        expect((await runCase(fixture, engine)).status, `${name} on ${engineName}`).toBe('pass');
        const twoPass = await runCase(fixture, planted(engine, { varianceAlgorithm: 'two-pass' }));
        expect(twoPass.status, `${name} on ${engineName}, two-pass`).toBe('fail');
        expect(describeFailure(twoPass)).toMatch(/step 0 \(train\) output/);
      }
    }
  });

  it('a float32-rounding fixture that the float64 reference matches fails (the tag is wrong)', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['flax-linen']);
    const twoPass = fixtures.find((f) => f.manifest.case === 'linen_large_mean_two_pass_variance')!;
    const mislabelled = { ...twoPass, manifest: { ...twoPass.manifest, tags: [FLOAT32_ROUNDING_TAG] } };
    const r = await runCase(mislabelled, createReferenceEngine());
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/matches it in float64 arithmetic/);
  });

  it("ORT's BatchNormalization node is ~1e-2 off Flax on a mean-1000 channel; its primitive graph is not", async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['flax-linen']);
    const twoPass = fixtures.find((f) => f.manifest.case === 'linen_large_mean_two_pass_variance')!;
    // The fixture's tolerance (1e-2) allows the node's folded x·a + b; hold both graphs to float32 ulps instead.
    const tight = { ...twoPass, manifest: { ...twoPass.manifest, tolerance: { atol: 2e-5, rtol: 1e-4, reason: 'ulps' } } };
    const { createOrtEngine } = await import('@normbridge/onnx');
    const node = await runCase(tight, await createOrtEngine({ backend: 'node' }));
    expect(node.status).toBe('fail');
    expect(Math.max(...node.comparisons.map((c) => c.maxAbsError))).toBeLessThan(1e-2);
    expect((await runCase(tight, await createOrtEngine({ backend: 'node', graph: 'primitive' }))).status).toBe('pass');
    expect((await runCase(tight, await createEngineByName('tfjs-cpu'))).status).toBe('pass');
  });

  it('a wrong epsilon on tfjs fails on the TF.js fixtures', async () => {
    const { fixtures } = await loadFixtures([FIXTURES], ['tfjs-layers']);
    const wrong = planted(await createEngineByName('tfjs-cpu'), { epsilon: 1e-5 });
    const r = await runCase(fixtures.find((f) => f.manifest.case === 'tfjs_defaults_semantics_10_2')!, wrong);
    expect(r.status).toBe('fail');
  });
});
