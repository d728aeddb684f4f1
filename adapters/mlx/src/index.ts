export { BatchNorm, type BatchNormOptions } from './batch-norm.js';
export { Module, treeFlatten, type FreezeOptions, type ModuleChild, type ParameterTree, type PreparedLoad, type Weights } from './module.js';
export { MlxVersion, MLX_VERSIONS, versionTraits, type MlxVersionTraits } from './version.js';
export { MlxError, type PythonErrorType } from './errors.js';
