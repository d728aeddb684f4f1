export { batchNormsFromCheckpoint, type BatchNormsFromCheckpointOptions, type LayerConfig, type PortedBatchNorms } from './batch-norms-from-checkpoint.js';
export { PortError, type PortErrorCode } from './errors.js';
export { PORT_TARGETS, TARGET_NAMING, type LinenBatchNorm, type PortTarget, type TargetLayers, type TargetOptions } from './targets.js';
