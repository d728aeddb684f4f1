export {
  Collection,
  Model,
  ModuleContext,
  ModuleState,
  getState,
  isStateful,
  module,
  stateful,
  type ModuleCallOptions,
  type ModuleDef,
  type StatefulOptions,
  type TopLevelOptions,
} from './base.js';
export { BatchNorm, Dense, relu, legacySpec, batchNormVjp, type BatchNormKwargs, type BatchNormVjp, type DenseKwargs } from './batch-norm.js';
