export {
  BatchNormalization,
  type BatchNormalizationCallOptions,
  type BatchNormalizationOptions,
  type InitializerIdentifier,
  type KerasProfile,
  type KerasVariable,
  type WeightName,
} from './batch-normalization.js';
export { KerasError, type KerasErrorType } from './errors.js';
export { clearSession } from './names.js';
