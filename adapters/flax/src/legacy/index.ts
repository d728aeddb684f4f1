export {
  Collection,
  Model,
  ModuleContext,
  ModuleState,
  getState,
  isStateful,
  asyncModule,
  module,
  stateful,
  statefulAsync,
  type ModuleCallOptions,
  type ModuleDef,
  type StatefulOptions,
  type TopLevelOptions,
} from './base.js';
export { BatchNorm, Dense, relu, legacySpec, batchNormVjp, batchNormVjpAsync, type BatchNormKwargs, type BatchNormVjp, type DenseKwargs } from './batch-norm.js';
