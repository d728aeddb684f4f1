export {
  _BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  LazyBatchNorm1d,
  LazyBatchNorm2d,
  LazyBatchNorm3d,
  type BatchNormOptions,
  type ModuleConfig,
} from './batchnorm.js';
export {
  SyncBatchNorm,
  convertSyncBatchnorm,
  convertSyncBatchnormAsync,
  type ProcessGroups,
  type SyncBatchNormCallOptions,
  type SyncBatchNormOptions,
} from './sync-batchnorm.js';
export { batchNorm, batchNormAsync, type BatchNormFunctionalOptions, type BatchNormResult } from './functional.js';
export {
  StateDictLoadError,
  TorchError,
  TorchIndexError,
  TorchRuntimeError,
  TorchSingleValuePerChannelError,
  TorchTypeError,
  TorchValueError,
  type PythonExceptionType,
} from './errors.js';
export type { IncompatibleKeys, LoadStateDictOptions, StateDict, StateDictOptions } from './state-dict.js';
// The torch profile's spec and versions, re-exported where users of this package found them.
export { torchSpec, TORCH_VERSIONS, TorchVersion, torchVersionTraits, type TorchSpecArgs, type TorchVersionTraits } from '@normbridge/frameworks';
