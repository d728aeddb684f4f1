export { Variable, Param, BatchStat, VariableState, collectionOf } from './variables.js';
export { Rngs } from './rngs.js';
export {
  Module,
  GraphDef,
  iterModules,
  iterVariables,
  state,
  split,
  update,
  flatState,
  toPureDict,
  type Filter,
  type GraphPath,
  type PureDict,
  type State,
} from './module.js';
export { BatchNorm, firstFrom, nnxSpec, type BatchNormCallArgs, type BatchNormOptions, type BatchNormVjp } from './batch-norm.js';
export { Sequential, type Layer } from './sequential.js';
export { WriteupBatchNorm, writeupSpec } from './writeup.js';
