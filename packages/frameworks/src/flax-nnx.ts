/**
 * `flax.nnx.BatchNorm`: the Flax family's convention (./flax-family.ts) as a stateful module:
 * `Param`s and `BatchStat`s in one tree (no collection prefix), every training call writes the
 * statistics (no init special case), reductions always in float32.
 */
import { FLAX_COMMON, MODERN_FLAX_VERSIONS, modernFlaxSpec, type FlaxCallArgs, type FlaxVersion, type ModernFlaxArgs } from './flax-family.js';
import type { FrameworkProfile } from './profile.js';

export const flaxNnx: FrameworkProfile<ModernFlaxArgs, FlaxCallArgs, FlaxVersion> = {
  id: 'flax-nnx',
  title: 'Flax NNX',
  ...MODERN_FLAX_VERSIONS,
  ...FLAX_COMMON,
  // `nnx.state(model)` flattened by attribute path (`bn/mean`, `layers/1/kernel`).
  checkpoint: { name: 'nnx', formatTag: 'flax', separators: ['/', '.'], kernel: 'kernel', kernelBias: 'bias', convLayout: '*IO', linearLayout: 'IO' },
  takesMask: true,
  // NNX has no init special case: every training call writes the statistics.
  specFromArgs: (args, call) => modernFlaxSpec(args, { ...call, updating: true }, 'float32'),
};
