/**
 * The real `tf.layers.batchNormalization` (@tensorflow/tfjs-layers 4.22) as the oracle, on the
 * same inputs and weights, over several training and inference steps.
 *
 * Tolerances achieved (and asserted):
 * - `'tfjs-layers'` profile on the tfjs engine, same backend as the oracle (cpu; wasm too):
 *   to float32 rounding (atol/rtol 1e-5, as the 'keras3' outputs), outputs and weights. The semantics are tfjs-layers'
 *   (moments, normalise, the `v - (v - batch) * (1 - momentum)` update); the engine's fused
 *   kernels sum the statistics accurately in float64 where tfjs rounds each x/n (cpu) or sums
 *   in float32 (wasm), so the last bit can differ.
 * - `'keras3'` profile on tfjs: outputs of a step are identical until the moving statistics
 *   differ; those use Keras 3's `v * m + batch * (1 - m)` and may differ by an ulp per step,
 *   so they are compared at a few ulps.
 * - Reference engine (float64): float32 rounding, rtol 1e-5.
 */
import { createReferenceEngine } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { BatchNormalization, type BatchNormalizationOptions } from './index.js';
import { expectClose, host, upload, values } from '@normbridge/testing';
import { engineCases, type EngineCase } from '@normbridge/testing-engines';
import { backendReady, runTfjsLayers, type OracleLayerArgs, type OracleStep } from './test-support/tfjs-layers.js';

const tfjsCases = (await engineCases()).filter((c): c is EngineCase & { backend: 'cpu' | 'wasm' } => c.backend !== undefined);
const cpuReady = tfjsCases.some((c) => c.backend === 'cpu') && backendReady('cpu');

/** Deterministic, unround test data around an offset. */
function data(n: number, seed: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => offset + (((Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453) % 1) * 3));
}

interface Scenario {
  readonly title: string;
  readonly shape: readonly number[];
  readonly args: OracleLayerArgs;
  readonly weights?: readonly (readonly number[])[];
  readonly trainingPattern: readonly boolean[];
}

const C = 3;
const SCENARIOS: readonly Scenario[] = [
  {
    title: 'rank 2 (7x3), non-default weights, momentum 0.9',
    shape: [7, C],
    args: { momentum: 0.9 },
    weights: [[1.5, -0.5, 2], [0.25, -1, 0.5], [0.1, -0.2, 0.3], [0.5, 2, 1.25]],
    trainingPattern: [true, true, false, true, true, false, true],
  },
  {
    title: 'rank 4 NHWC (2x3x2x3), non-default weights, momentum 0.9, epsilon 1e-5',
    shape: [2, 3, 2, C],
    args: { momentum: 0.9, epsilon: 1e-5 },
    weights: [[0.8, 1.2, -1], [0, 0.5, -0.25], [1, -1, 0.5], [2, 0.5, 3]],
    trainingPattern: [false, true, true, true, false, true],
  },
  {
    title: 'rank 3 (2x5x3), default arguments, large mean',
    shape: [2, 5, C],
    args: {},
    trainingPattern: [true, true, true, false],
  },
];

function stepsFor(s: Scenario): OracleStep[] {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return s.trainingPattern.map((training, i) => ({ shape: s.shape, x: data(n, i + 1, s.title.includes('large') ? 50 : 0.5), training }));
}

function ours<T>(s: Scenario, options: BatchNormalizationOptions<T>): BatchNormalization<T> {
  const bn = new BatchNormalization<T>({ ...(s.args as BatchNormalizationOptions<T>), ...options });
  bn.build(s.shape);
  if (s.weights) bn.setWeights(s.weights.map((w) => host([w.length], w)));
  return bn;
}

/**
 * The fused kernels' accurate sums against tfjs-layers' rounded ones. Absolute, not in ulps:
 * a centred output near 0, or one of a mean-50 channel, inherits the rounding of x − mean,
 * which is an ulp of the input, not of the output.
 */
function expectLayersClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  try {
    expectClose(actual, expected, 1e-5, 1e-5);
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`);
  }
}

function ulpsApart(a: number, b: number): number {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat32(0, a);
  buf.setFloat32(4, b);
  return Math.abs(buf.getInt32(0) - buf.getInt32(4));
}

describe.runIf(tfjsCases.length > 0)('against @tensorflow/tfjs-layers', () => {
  describe.each(tfjsCases)('oracle and engine on $backend', ({ engine, backend }) => {
    describe.each(SCENARIOS)('$title', (s) => {
      const steps = stepsFor(s);

      it("'tfjs-layers' profile: every output and the final weights within a few ulps", () => {
        const oracle = runTfjsLayers(backend, s.args, steps, s.weights);
        const bn = ours(s, { profile: 'tfjs-layers', engine });
        steps.forEach((step, i) => {
          const y = engine.toHost(bn.apply(upload(engine, step.shape, step.x), { training: step.training }));
          expectLayersClose(y.data, oracle.outputs[i]!, `step ${i} (training ${step.training})`);
        });
        expectLayersClose(bn.getWeights().flatMap((w) => Array.from(w.data)), oracle.weights.flatMap((w) => Array.from(w)), 'weights');
      });

      it("'keras3' profile: the same up to the last bits of the moving statistics", () => {
        const oracle = runTfjsLayers(backend, s.args, steps, s.weights);
        const bn = ours(s, { engine });
        steps.forEach((step, i) => {
          const y = values(engine, bn.apply(upload(engine, step.shape, step.x), { training: step.training }));
          expectClose(y, oracle.outputs[i]!, 1e-5, 1e-5);
        });
        const got = bn.getWeights().flatMap((w) => Array.from(w.data));
        const want = oracle.weights.flatMap((w) => Array.from(w));
        got.forEach((v, i) => expect(ulpsApart(v, want[i]!), `weight element ${i}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(8));
      });
    });

    it('tfjs-layers ignores trainable = false and keeps updating; the tfjs-layers profile too', () => {
      const s = SCENARIOS[0]!;
      const steps = stepsFor(s);
      const oracle = runTfjsLayers(backend, { ...s.args, trainable: false }, steps, s.weights);
      const bn = ours(s, { profile: 'tfjs-layers', trainable: false, engine });
      steps.forEach((step, i) => {
        expectLayersClose(values(engine, bn.apply(upload(engine, step.shape, step.x), { training: step.training })), oracle.outputs[i]!, `step ${i}`);
      });
      expectLayersClose(bn.getWeights().flatMap((w) => Array.from(w.data)), oracle.weights.flatMap((w) => Array.from(w)), 'weights');
      // Keras 3 instead runs a frozen layer in inference: the weights never move.
      const keras3 = ours(s, { trainable: false, engine });
      for (const step of steps) keras3.apply(upload(engine, step.shape, step.x), { training: true });
      expect(keras3.getWeights().map((w) => Array.from(w.data))).toEqual(s.weights!.map((w) => Array.from(Float32Array.from(w))));
    });
  });

  describe.runIf(cpuReady)('tfjs-layers bugs that are not inherited (cpu)', () => {
    const cpu = tfjsCases.find((c) => c.backend === 'cpu')!.engine;
    const reference = createReferenceEngine();

    it('center: false / scale: false: tfjs-layers throws in training, ours trains', () => {
      const steps: OracleStep[] = [{ shape: [4, 3], x: [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2], training: true }];
      for (const flags of [{ center: false }, { scale: false }]) {
        expect(() => runTfjsLayers('cpu', flags, steps)).toThrow(TypeError);
        const bn = new BatchNormalization({ ...flags, profile: 'tfjs-layers', engine: cpu });
        const y = values(cpu, bn.apply(upload(cpu, [4, 3], steps[0]!.x), { training: true }));
        // With the default gamma = 1 / beta = 0 the missing weight changes nothing: the oracle's
        // own full layer gives the expected output.
        expect(y).toEqual(Array.from(runTfjsLayers('cpu', {}, steps).outputs[0]!));
      }
      // Inference with center: false works in tfjs-layers, and matches bit for bit.
      const infer: OracleStep[] = [{ ...steps[0]!, training: false }];
      const bn = new BatchNormalization({ center: false, profile: 'tfjs-layers', engine: cpu });
      expect(values(cpu, bn.apply(upload(cpu, [4, 3], infer[0]!.x)))).toEqual(
        Array.from(runTfjsLayers('cpu', { center: false }, infer).outputs[0]!),
      );
    });

    it('axis 1 on NCHW: tfjs-layers on cpu is wrong (tensorflow/tfjs#1106), ours matches the float64 reference', () => {
      const shape = [2, 3, 2, 2];
      const weights = [[1.5, -0.5, 2], [0.25, -1, 0.5], [0.1, -0.2, 0.3], [0.5, 2, 1.25]];
      const steps: OracleStep[] = [
        { shape, x: data(24, 7), training: true },
        { shape, x: data(24, 8), training: false },
      ];
      const oracle = runTfjsLayers('cpu', { axis: 1, momentum: 0.9 }, steps, weights);
      const make = <T>(engine: typeof cpu | typeof reference) => {
        const bn = new BatchNormalization<T>({ axis: 1, momentum: 0.9, profile: 'tfjs-layers', engine: engine as never });
        bn.build(shape);
        bn.setWeights(weights.map((w) => host([3], w)));
        return bn;
      };
      const ourCpu = make(cpu);
      const ref = make(reference);
      let oracleError = 0;
      steps.forEach((step) => {
        const a = values(cpu, ourCpu.apply(upload(cpu, shape, step.x), { training: step.training }));
        const b = values(reference, ref.apply(host(shape, step.x), { training: step.training }));
        expectClose(a, b, 1e-5, 1e-5);
        oracleError = Math.max(oracleError, ...b.map((v, i) => Math.abs(v - oracle.outputs[steps.indexOf(step)]![i]!)));
      });
      expectClose(
        ourCpu.getWeights().flatMap((w) => Array.from(w.data)),
        ref.getWeights().flatMap((w) => Array.from(w.data)),
        1e-6,
        1e-5,
      );
      expect(oracleError).toBeGreaterThan(0.05);
    });
  });
});
