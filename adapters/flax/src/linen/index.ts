export {
  Module,
  Scope,
  type ApplyOptions,
  type CollectionFilter,
  type NoArgs,
  type ScopeOptions,
  type Variables,
  type VariableRef,
} from './module.js';
export { BatchNorm, linenSpec, mergeParam, type BatchNormCallArgs, type BatchNormFields, type BatchNormVjp } from './batch-norm.js';
