import type * as tf from '@tensorflow/tfjs-core';
import type { BatchNormSpec, EngineCapabilities, Mode, Support, SyncEngine } from '@normbridge/core';
import { activate, initialiseBackend, type TfjsBackendName, type TfjsBackendOptions } from './backends.js';
import { downloadTensor, uploadState, uploadTensor } from './host.js';
import { batchNormEvalOp, batchNormTrainOp, batchNormVjp } from './ops.js';
import { registerFusedKernels } from './kernels/register.js';
import { registerTfjsGradients } from './register-extras.js';

/** Options of {@link createTfjsEngine}. */
export type TfjsEngineOptions = TfjsBackendOptions;

/** A normbridge engine over one tfjs backend. */
export interface TfjsEngine extends SyncEngine<tf.Tensor> {
  readonly backend: TfjsBackendName;
}

/** tfjs kernels (webgl and wasm transposes, broadcasting) are written for rank ≤ 6. */
const MAX_RANK = 6;

const CAPABILITIES: EngineCapabilities = {
  gradients: true,
  dtypes: ['float32'],
  masks: true,
  crossReplica: true,
  arithmetic: 'input',
};

/**
 * Registers and initialises a tfjs backend (plus tfjs's gradients and chained ops), then
 * returns an engine named `tfjs-<backend>`. Each engine call first makes its backend the
 * active one, so engines over different backends can live in one process.
 */
export async function createTfjsEngine(backend: TfjsBackendName, options: TfjsEngineOptions = {}): Promise<TfjsEngine> {
  await registerTfjsGradients();
  await initialiseBackend(backend, options);
  await registerFusedKernels(backend);
  const use = () => activate(backend);
  const ok: Support = { ok: true };
  return {
    name: `tfjs-${backend}`,
    backend,
    synchronous: true,
    capabilities: CAPABILITIES,
    supports(_spec: BatchNormSpec, _mode: Mode, inputShape: readonly number[]): Support {
      if (inputShape.length > MAX_RANK) {
        return { ok: false, reason: `tfjs kernels handle rank ≤ ${MAX_RANK}; the input has rank ${inputShape.length}` };
      }
      return ok;
    },
    fromHost(t) {
      use();
      return uploadTensor(t);
    },
    toHost: (t) => downloadTensor(t),
    shapeOf: (t) => t.shape,
    stateFromHost(state) {
      use();
      return uploadState(state);
    },
    dispose(...tensors) {
      for (const t of tensors) t?.dispose();
    },
    train(spec, state, x, options) {
      use();
      return batchNormTrainOp(spec, state, x, options);
    },
    evaluate(spec, state, x, options) {
      use();
      return batchNormEvalOp(spec, state, x, options);
    },
    vjp(spec, state, x, dy, mode, options) {
      use();
      return batchNormVjp(spec, state, x, dy, mode, options);
    },
  };
}
