export {
  createAsyncTfjsEngine,
  createTfjsEngine,
  type AsyncReadbackBackend,
  type AsyncTfjsEngine,
  type TfjsEngine,
  type TfjsEngineOptions,
} from './engine.js';
export {
  availableTfjsBackends,
  TFJS_BACKENDS,
  type TfjsBackendName,
  type TfjsBackendOptions,
} from './backends.js';
export { batchNormEvalOp, batchNormTrainOp, batchNormVjp } from './differentiable-ops.js';
export { registerTfjsGradients } from './register-gradients.js';
export { customGradOps, hostEngineOnTf, keepNew, type DifferentiableOps } from './bridge.js';
export { downloadTensor } from './host.js';
export { isTfTensor } from './tensor-ops.js';
// Loading this module registers tf.Tensor as core's 'tf' tensor kind (adapters take tf leaves through it).
export { tfTensorKind } from './tensor-kind.js';
export { wasmKernelFlavour } from './kernels/register.js';
