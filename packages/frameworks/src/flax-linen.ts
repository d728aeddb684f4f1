/**
 * `flax.linen.BatchNorm`: the Flax family's convention (./flax-family.ts), variables in the
 * `params` and `batch_stats` collections, `use_fast_variance` and `force_float32_reductions`,
 * no running-average write while `init` runs.
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

export const flaxLinen: FrameworkProfile<ModernFlaxArgs, FlaxCallArgs, FlaxVersion> = {
  id: 'flax-linen',
  title: 'Flax linen',
  versions: FLAX_VERSIONS,
  latest: '0.12',
  versionOf: (reported) => FLAX_VERSIONS.find((v) => reported.startsWith(`${v}.`)),
  momentum: { convention: 'decay', cumulative: false },
  defaults: FLAX_DEFAULTS,
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: FLAX_PARAMS,
  stats: FLAX_STATS,
  collections: { params: 'params', stats: 'batch_stats' },
  affinePaired: false,
  // `traverse_util.flatten_dict(sep='/')`; the dotted form other tools write is read too.
  checkpoint: { name: 'flax', formatTag: 'flax', separators: ['/', '.'], kernel: 'kernel', kernelBias: 'bias', convLayout: '*IO', linearLayout: 'IO' },
  emptyTrainingBatch: 'nan',
  takesMask: true,
  specFromArgs: (args, call) =>
    flaxSpec({
      featureAxes: resolveFeatureAxes(args.axis, call),
      momentum: args.momentum,
      epsilon: args.epsilon,
      updating: call.updating ?? true,
      varianceAlgorithm: fastVarianceAlgorithm(args.use_fast_variance),
      scale: args.use_scale !== false,
      bias: args.use_bias !== false,
      masked: call.masked === true,
      statisticsDtype: args.force_float32_reductions === false ? 'input' : 'float32',
    }),
};
