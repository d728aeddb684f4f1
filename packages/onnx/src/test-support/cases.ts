/**
 * A spread of specs and inputs, each run for several training steps, then inference, then both
 * vjps, against the float64 reference.
 */
import {
  defineSpec,
  fromBatchWeightMomentum,
  initialState,
  referenceEval,
  referenceTrain,
  referenceVjp,
  type BatchNormSpecInput,
  type Dtype,
  type HostState,
  type HostTensor,
  type Mode,
  type StepOptions,
} from '@normbridge/core';
import type { Tensor } from 'onnxruntime-node';
import type { OrtEngine } from '../engine/engine.js';
import { expectClose } from '@normbridge/testing';
import { randomMask, randomTensor, TOL } from './data.js';

export interface EngineCase {
  readonly name: string;
  readonly spec: BatchNormSpecInput;
  readonly shape: readonly number[];
  readonly dtype?: Dtype;
  /** Shape of a random mask (the spec must allow masks). */
  readonly maskShape?: readonly number[];
  readonly replicas?: StepOptions<HostTensor>['replicas'];
  /** Non-default state to start from (scale, bias, running statistics). */
  readonly randomState?: boolean;
  readonly steps?: number;
  /** Offset of the input values (large offsets stress one-pass variance). */
  readonly offset?: number;
}

const torchLike: BatchNormSpecInput = { featureAxes: [1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased' };

export const ENGINE_CASES: readonly EngineCase[] = [
  { name: 'NCHW, ONNX semantics', spec: { featureAxes: [1] }, shape: [4, 3, 5, 6], randomState: true },
  { name: 'NHWC (channels-last)', spec: { featureAxes: [-1], runningAverage: { kind: 'exponential', oldValueWeight: 0.99 } }, shape: [4, 5, 6, 3] },
  { name: '[N, C]', spec: { featureAxes: [-1] }, shape: [16, 5], randomState: true },
  { name: 'rank 1 (one value per channel)', spec: { featureAxes: [0] }, shape: [7] },
  { name: 'torch: unbiased, momentum 0.1', spec: torchLike, shape: [5, 4, 3], randomState: true },
  { name: 'torch: cumulative average', spec: { ...torchLike, runningAverage: { kind: 'cumulative' } }, shape: [6, 3, 4], steps: 4 },
  { name: 'TF.js: decay-toward, eps 1e-3', spec: { featureAxes: [-1], epsilon: 1e-3, runningUpdateForm: 'decay-toward', runningAverage: { kind: 'exponential', oldValueWeight: 0.99 } }, shape: [2, 3, 2, 3] },
  { name: 'flax: one-pass clamped', spec: { featureAxes: [-1], varianceAlgorithm: 'one-pass-clamped' }, shape: [8, 4], offset: 0.3 },
  { name: 'legacy flax: one-pass unclamped', spec: { featureAxes: [-1], varianceAlgorithm: 'one-pass-unclamped' }, shape: [3, 4, 5] },
  { name: 'multi-axis [1, 2] (contiguous)', spec: { featureAxes: [1, 2] }, shape: [3, 4, 2, 5], randomState: true },
  { name: 'multi-axis [3, 1] (transposed)', spec: { featureAxes: [3, 1] }, shape: [2, 3, 4, 5], randomState: true },
  { name: 'no scale, no bias', spec: { featureAxes: [1], scale: false, bias: false }, shape: [4, 3, 5] },
  { name: 'masked NCHW', spec: { featureAxes: [1], masked: true }, shape: [4, 3, 5, 2], maskShape: [4, 1, 5, 2], randomState: true },
  { name: 'masked channels-last, unbiased', spec: { featureAxes: [-1], masked: true, runningVarianceEstimator: 'unbiased' }, shape: [6, 5, 3], maskShape: [5, 3] },
  { name: 'replicas, count-weighted', spec: { featureAxes: [-1] }, shape: [2, 4, 5, 3], replicas: {}, randomState: true },
  {
    name: 'replica groups, unweighted mean, masked',
    spec: { featureAxes: [-1], masked: true, replicaCombination: 'unweighted-mean', runningVarianceEstimator: 'unbiased' },
    shape: [4, 6, 3],
    replicas: { groups: [[0, 2], [1, 3]] },
    maskShape: [4, 6, 1],
  },
  { name: 'evalStatistics batch (track_running_stats=False)', spec: { featureAxes: [1], evalStatistics: 'batch', runningAverage: { kind: 'none' } }, shape: [4, 3, 5] },
  { name: 'running average none (frozen)', spec: { featureAxes: [1], runningAverage: { kind: 'none' } }, shape: [4, 3, 5], randomState: true },
  { name: 'float64 NCHW (eps 1e-5: primitive)', spec: { featureAxes: [1] }, shape: [4, 3, 5, 6], dtype: 'float64', randomState: true },
  { name: 'float64, eps 2^-10 (node)', spec: { featureAxes: [1], epsilon: 2 ** -10 }, shape: [4, 3, 5], dtype: 'float64', randomState: true },
  { name: 'float64 torch cumulative, channels-last', spec: { ...torchLike, featureAxes: [-1], runningAverage: { kind: 'cumulative' } }, shape: [3, 4, 5], dtype: 'float64', steps: 3 },
  { name: 'float64 masked replicas', spec: { featureAxes: [-1], masked: true }, shape: [2, 5, 3], dtype: 'float64', replicas: {}, maskShape: [2, 5, 1] },
];

function startState(c: EngineCase, featureShape: readonly number[]): HostState {
  const spec = defineSpec(c.spec);
  const dtype = c.dtype === 'float64' ? 'float64' : 'float32';
  const s = initialState(spec, featureShape, dtype);
  if (!c.randomState) return s;
  const r = (seed: number, offset: number, spread: number) => randomTensor(featureShape, seed, dtype, offset, spread);
  return {
    scale: s.scale && r(11, 1, 0.5),
    bias: s.bias && r(12, 0, 0.5),
    runningMean: r(13, 0.2, 0.5),
    runningVar: r(14, 1.5, 0.4),
    numBatchesTracked: 5,
  };
}

/** Runs one case on an engine and compares every output with the reference. */
export async function checkCase(engine: OrtEngine, c: EngineCase): Promise<void> {
  const spec = defineSpec(c.spec);
  const dtype = c.dtype ?? 'float32';
  const tol = dtype === 'float64' ? TOL.float64 : TOL.float32;
  const sampleShape = c.replicas ? c.shape.slice(1) : c.shape;
  const rank = sampleShape.length;
  const featureShape = spec.featureAxes.map((a) => sampleShape[a < 0 ? rank + a : a]!);
  let ref = startState(c, featureShape);
  let state = engine.stateFromHost(ref);
  const host = async (t: Tensor | undefined) => engine.toHost(t!);
  const options = (seed: number) => {
    const mask = c.maskShape ? randomMask(c.maskShape, seed) : undefined;
    const hostOpts: StepOptions<HostTensor> = { mask, replicas: c.replicas };
    const engineOpts: StepOptions<Tensor> = { mask: mask && engine.fromHost(mask), replicas: c.replicas };
    return { hostOpts, engineOpts };
  };
  for (let step = 0; step < (c.steps ?? 2); step++) {
    const x = randomTensor(c.shape, 100 + step, dtype, c.offset ?? 0.5);
    const { hostOpts, engineOpts } = options(200 + step);
    const expected = referenceTrain(spec, ref, x, hostOpts);
    const out = await engine.train(spec, state, engine.fromHost(x), engineOpts);
    const at = `step ${step}`;
    expectClose(await host(out.y), expected.y, tol, `${at} y`);
    expectClose(await host(out.batchMean), expected.batchMean, tol, `${at} batchMean`);
    expectClose(await host(out.batchVar), expected.batchVar, tol, `${at} batchVar`);
    if (expected.state.runningMean !== ref.runningMean) {
      expectClose(await host(out.state.runningMean), expected.state.runningMean!, tol, `${at} runningMean`);
      expectClose(await host(out.state.runningVar), expected.state.runningVar!, tol, `${at} runningVar`);
    } else {
      if (out.state !== state) throw new Error(`${at}: the state should come back unchanged`);
    }
    if (out.state.numBatchesTracked !== expected.state.numBatchesTracked) {
      throw new Error(`${at}: numBatchesTracked ${out.state.numBatchesTracked} vs ${expected.state.numBatchesTracked}`);
    }
    // Replica mode returns stacked running statistics; continue from the reference's first replica.
    if (c.replicas && expected.state.runningMean !== ref.runningMean) break;
    ref = expected.state;
    state = out.state;
  }
  const x = randomTensor(c.shape, 300, dtype, c.offset ?? 0.5);
  const { hostOpts, engineOpts } = options(400);
  const evalState = engine.stateFromHost(ref);
  expectClose(await host(await engine.evaluate(spec, evalState, engine.fromHost(x), engineOpts)), referenceEval(spec, ref, x, hostOpts), tol, 'eval y');
  const dy = randomTensor(c.shape, 500, dtype, 0, 1);
  for (const mode of ['train', 'eval'] as Mode[]) {
    const expected = referenceVjp(spec, ref, x, dy, mode, hostOpts);
    const got = await engine.vjp(spec, evalState, engine.fromHost(x), engine.fromHost(dy), mode, engineOpts);
    const gtol = { atol: tol.atol * 5, rtol: tol.rtol * 5 };
    expectClose(await host(got.dx), expected.dx, gtol, `${mode} dx`);
    if (spec.scale) expectClose(await host(got.dScale), expected.dScale!, gtol, `${mode} dScale`);
    if (spec.bias) expectClose(await host(got.dBias), expected.dBias!, gtol, `${mode} dBias`);
  }
}
