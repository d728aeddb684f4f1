/**
 * ONNX `BatchNormalization` (opset 15 onward; the fixtures record opsets 15 and 18): channel
 * axis 1, decay momentum 0.9 (not Keras/Flax's 0.99), the biased variance into the running
 * variance, two-pass statistics, `blend` (the semantics opset 14 spelled out). The node's
 * inputs are its variables: `scale`, `B`, `input_mean`, `input_var`.
 */
import { defineSpec } from '@normbridge/core';
import { runningAverageFrom } from './momentum.js';
import type { FrameworkProfile } from './profile.js';

/** Node attributes. */
export interface OnnxArgs {
  /** @default 1e-5 */
  readonly epsilon?: number | undefined;
  /** Weight of the OLD running value (a decay, like Flax/Keras). @default 0.9 */
  readonly momentum?: number | undefined;
}

export interface OnnxCall {
  /**
   * ONNX stores `epsilon` and `momentum` as float32 attributes (1e-5 is 9.99999974738e-06), and
   * ONNX Runtime computes with that float32 value, defaults included. `true` rounds the given
   * decimals the same way, to reproduce a run; `false` keeps them as given.
   * @default false
   */
  readonly float32Attributes?: boolean | undefined;
  /** Names the momentum in a `SpecError` (`<node>.momentum`). @default 'momentum' */
  readonly label?: string | undefined;
}

export const onnx: FrameworkProfile<OnnxArgs, OnnxCall, 'opset-15'> = {
  id: 'onnx',
  title: 'ONNX',
  versions: ['opset-15'],
  latest: 'opset-15',
  versionOf: (reported) => {
    const opset = /^opset-(\d+)$/.exec(reported)?.[1];
    return opset !== undefined && Number(opset) >= 15 ? 'opset-15' : undefined;
  },
  momentum: { convention: 'decay', cumulative: false },
  defaults: { epsilon: 1e-5, momentum: 0.9, featureAxis: 1 },
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: [
    { name: 'scale', key: 'scale' },
    { name: 'B', key: 'bias' },
  ],
  stats: [
    { name: 'input_mean', key: 'runningMean' },
    { name: 'input_var', key: 'runningVar' },
  ],
  affinePaired: true,
  takesMask: false,
  specFromArgs(args, call) {
    const round = call.float32Attributes === true ? Math.fround : (v: number) => v;
    return defineSpec({
      featureAxes: [onnx.defaults.featureAxis],
      epsilon: round(args.epsilon ?? onnx.defaults.epsilon),
      runningAverage: runningAverageFrom(round(args.momentum ?? onnx.defaults.momentum), 'decay', call.label === undefined ? 'momentum' : `${call.label}.momentum`),
      runningVarianceEstimator: 'biased',
      varianceAlgorithm: 'two-pass',
      runningUpdateForm: 'blend',
      evalStatistics: 'running',
      singleValuePerChannel: 'allowed',
    });
  },
};
