/**
 * `flax.linen.BatchNorm`: the Flax family's convention (./flax-family.ts), variables in the
 * `params` and `batch_stats` collections, `use_fast_variance` and `force_float32_reductions`,
 * no running-average write while `init` runs.
 */
import { FLAX_COMMON, MODERN_FLAX_VERSIONS, modernFlaxSpec, type FlaxCallArgs, type FlaxVersion, type ModernFlaxArgs } from './flax-family.js';
import type { FrameworkProfile } from './profile.js';

export const flaxLinen: FrameworkProfile<ModernFlaxArgs, FlaxCallArgs, FlaxVersion> = {
  id: 'flax-linen',
  title: 'Flax linen',
  ...MODERN_FLAX_VERSIONS,
  ...FLAX_COMMON,
  collections: { params: 'params', stats: 'batch_stats' },
  // `traverse_util.flatten_dict(sep='/')`; the dotted form other tools write is read too.
  checkpoint: { name: 'flax', formatTag: 'flax', separators: ['/', '.'], kernel: 'kernel', kernelBias: 'bias', convLayout: '*IO', linearLayout: 'IO' },
  emptyTrainingBatch: 'nan',
  takesMask: true,
  specFromArgs: (args, call) => modernFlaxSpec(args, call, args.force_float32_reductions === false ? 'input' : 'float32'),
};
