export { availableOrtBackends, ORT_BACKENDS, type OrtBackend, type BackendOptions } from './backends.js';
export { createOrtEngine, type GraphQuery, type OrtEngine, type OrtEngineOptions } from './engine/engine.js';
export type { GraphChoice, GraphKind, StepOp } from './graph/plan.js';
export type { CacheStats } from './session-cache.js';
export { exportOnnxModel, type ExportOptions } from './model/export.js';
export { importBatchNorms, type ImportedBatchNorm, type ImportOptions } from './model/import.js';
export { foldBatchNormIntoConv, foldBatchNormIntoGemm, type ConvParams, type GemmParams } from './fold/fold-tensors.js';
export { foldBatchNormsInModel, type FoldedPair, type FoldResult } from './fold/fold-model.js';
export { OnnxModelError } from './errors.js';
