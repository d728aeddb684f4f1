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
export { BatchNorm, legacySpec, batchNormVjp, batchNormVjpAsync, type BatchNormKwargs, type BatchNormVjp } from './batch-norm.js';
