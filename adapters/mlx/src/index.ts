export { BatchNorm, type BatchNormOptions } from './batch-norm.js';
export { Module, treeFlatten, type FreezeOptions, type ModuleChild, type ParameterTree, type PreparedLoad, type Weights } from './module.js';
// The MLX profile's versions, re-exported where users of this package found them.
export { MlxVersion, MLX_VERSIONS, versionTraits, type MlxVersionTraits } from '@normbridge/frameworks';
export { MlxError, type PythonErrorType } from './errors.js';
