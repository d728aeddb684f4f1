/**
 * Legacy `flax.nn.BatchNorm` (flax ≤ 0.3.6): the Flax family's convention (./flax-family.ts)
 * with an unclamped one-pass variance (`E[x²] − E[x]²`), `params` and a `state` collection, no
 * mask, and `bias`/`scale` where linen says `use_bias`/`use_scale`.
 */
import { FLAX_COMMON, flaxSpec, resolveFeatureAxes, type FlaxCallArgs } from './flax-family.js';
import type { FrameworkProfile } from './profile.js';

/** `flax.nn.BatchNorm` keyword arguments. */
export interface LegacyFlaxArgs {
  /** @default -1 */
  readonly axis?: number | readonly number[] | undefined;
  /** @default 0.99 */
  readonly momentum?: number | undefined;
  /** @default 1e-5 */
  readonly epsilon?: number | undefined;
  /** @default true */
  readonly bias?: boolean | undefined;
  /** @default true */
  readonly scale?: boolean | undefined;
}

export const flaxLegacy: FrameworkProfile<LegacyFlaxArgs, FlaxCallArgs, '0.3'> = {
  id: 'flax-legacy',
  title: 'Flax flax.nn (legacy)',
  versions: ['0.3'],
  latest: '0.3',
  versionOf: (reported) => (reported.startsWith('0.3.') ? '0.3' : undefined),
  ...FLAX_COMMON,
  collections: { params: 'params', stats: 'state' },
  takesMask: false,
  specFromArgs: (args, call) =>
    flaxSpec({
      featureAxes: resolveFeatureAxes(args.axis, call),
      momentum: args.momentum,
      epsilon: args.epsilon,
      updating: call.updating ?? true,
      varianceAlgorithm: 'one-pass-unclamped',
      scale: args.scale !== false,
      bias: args.bias !== false,
      masked: false,
      statisticsDtype: 'float32',
    }),
};
