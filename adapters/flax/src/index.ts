/** flax.linen: BatchNorm and the compact Module system (Dense, relu: `@normbridge/training`). */
export * as linen from './linen/index.js';
/** flax.nnx: BatchNorm, Param/BatchStat, split/state/toPureDict, Sequential, the write-up's BatchNorm (Linear: `@normbridge/training`). */
export * as nnx from './nnx/index.js';
/** Legacy `flax.nn` (flax ≤ 0.3.x): the functional BatchNorm, stateful collections. */
export * as nn from './legacy/index.js';
export * as random from './random.js';
export * as initializers from './initializers.js';
export * from './errors.js';
export * from './tree.js';
export { canonicalizeAxes, pythonSetOrder, absoluteDims, type Axes } from './axes.js';
export { pmap, boundAxisName } from './replicas.js';
export {
  checkInput,
  requireSync,
  resolveAnyEngine,
  resolveEngine,
  runBatchNorm,
  runBatchNormAsync,
  type BatchNormOutput,
} from './backend.js';
export { cloneLeaf, indexLeaf, isEngineLeaf, isHostTensor, leafValues, registerEngine, reshapeLeaf, shapeOf } from './leaf.js';
export { checkInexact, type FlaxDtype } from './dtypes.js';
