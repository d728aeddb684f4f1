/**
 * `flax.nnx.BatchNorm`: the Flax family's convention (./flax-family.ts) as a stateful module:
 * `Param`s and `BatchStat`s in one tree (no collection prefix), every training call writes the
 * statistics (no init special case), reductions always in float32.
 */
import {
  FLAX_DEFAULTS,
  FLAX_PARAMS,
  FLAX_STATS,
  FLAX_VERSIONS,
  fastVarianceAlgorithm,
  flaxSpec,
  resolveFeatureAxes,
  type FlaxCallArgs,
  type FlaxVersion,
  type ModernFlaxArgs,
} from './flax-family.js';
import type { FrameworkProfile } from './profile.js';

export const flaxNnx: FrameworkProfile<ModernFlaxArgs, FlaxCallArgs, FlaxVersion> = {
  id: 'flax-nnx',
  title: 'Flax NNX',
  versions: FLAX_VERSIONS,
  latest: '0.12',
  versionOf: (reported) => FLAX_VERSIONS.find((v) => reported.startsWith(`${v}.`)),
  momentum: { convention: 'decay', cumulative: false },
  defaults: FLAX_DEFAULTS,
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: FLAX_PARAMS,
  stats: FLAX_STATS,
  affinePaired: false,
  // `nnx.state(model)` flattened by attribute path (`bn/mean`, `layers/1/kernel`).
  checkpoint: { name: 'nnx', formatTag: 'flax', separators: ['/', '.'], kernel: 'kernel', kernelBias: 'bias', convLayout: '*IO', linearLayout: 'IO' },
  takesMask: true,
  specFromArgs: (args, call) =>
    flaxSpec({
      featureAxes: resolveFeatureAxes(args.axis, call),
      momentum: args.momentum,
      epsilon: args.epsilon,
      updating: true,
      varianceAlgorithm: fastVarianceAlgorithm(args.use_fast_variance),
      scale: args.use_scale !== false,
      bias: args.use_bias !== false,
      masked: call.masked === true,
      statisticsDtype: 'float32',
    }),
};
