import * as tf from '@tensorflow/tfjs-core';
import type { AsyncEngine, BatchNormSpec, EngineBase, EngineCapabilities, Mode, Support, SyncEngine } from '@normbridge/core';
import { activate, initialiseBackend, type TfjsBackendName, type TfjsBackendOptions } from './backends.js';
import { downloadTensor, downloadTensorAsync, uploadState, uploadTensor } from './host.js';
import { batchNormEvalOp, batchNormTrainOp, batchNormVjp } from './differentiable-ops.js';
import { registerFusedKernels } from './kernels/register.js';
import { registerTfjsGradients } from './register-gradients.js';
import { isTfTensor, reshapeTensor, tensorRow } from './tensor-ops.js';

/** Options of {@link createTfjsEngine}. */
export type TfjsEngineOptions = TfjsBackendOptions;

/** A normbridge engine over one tfjs backend whose results can be read back synchronously. */
export interface TfjsEngine extends SyncEngine<tf.Tensor> {
  readonly backend: TfjsBackendName;
}

/** A normbridge engine over one tfjs backend that reads results back asynchronously (WebGPU). */
export interface AsyncTfjsEngine extends AsyncEngine<tf.Tensor> {
  readonly backend: TfjsBackendName;
}

/** Backends that cannot read a GPU result back synchronously: `dataSync()` is wrong there. */
export type AsyncReadbackBackend = 'webgpu';
const ASYNC_READBACK: readonly TfjsBackendName[] = ['webgpu'];

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
 * active one, so engines over different backends can live in one process. On `webgpu` the
 * engine is asynchronous (`toHost` returns a promise): WebGPU has no synchronous readback.
 */
export function createTfjsEngine(backend: AsyncReadbackBackend, options?: TfjsEngineOptions): Promise<AsyncTfjsEngine>;
export function createTfjsEngine(backend: Exclude<TfjsBackendName, AsyncReadbackBackend>, options?: TfjsEngineOptions): Promise<TfjsEngine>;
export function createTfjsEngine(backend: TfjsBackendName, options?: TfjsEngineOptions): Promise<TfjsEngine | AsyncTfjsEngine>;
export async function createTfjsEngine(backend: TfjsBackendName, options: TfjsEngineOptions = {}): Promise<TfjsEngine | AsyncTfjsEngine> {
  return ASYNC_READBACK.includes(backend) ? createAsyncTfjsEngine(backend, options) : createSyncEngine(backend, options);
}

/**
 * An asynchronous engine on any backend: the same kernels, read back with `await t.data()`,
 * which never blocks a page's main thread on a GPU.
 */
export async function createAsyncTfjsEngine(backend: TfjsBackendName, options: TfjsEngineOptions = {}): Promise<AsyncTfjsEngine> {
  const base = await engineBase(backend, options);
  const run = computations(backend);
  return {
    ...base,
    synchronous: false,
    toHost: (t) => downloadTensorAsync(t),
    train: async (...a) => run.train(...a),
    evaluate: async (...a) => run.evaluate(...a),
    vjp: async (...a) => run.vjp(...a),
  };
}

async function createSyncEngine(backend: TfjsBackendName, options: TfjsEngineOptions): Promise<TfjsEngine> {
  const base = await engineBase(backend, options);
  return { ...base, synchronous: true, toHost: (t) => downloadTensor(t), ...computations(backend) };
}

/** An engine's BatchNorm calls on its backend (made the active one first); the async engine awaits the same. */
function computations(backend: TfjsBackendName): Pick<TfjsEngine, 'train' | 'evaluate' | 'vjp'> {
  const use = () => activate(backend);
  return {
    train(spec, state, x, o) {
      use();
      return batchNormTrainOp(spec, state, x, o);
    },
    evaluate(spec, state, x, o) {
      use();
      return batchNormEvalOp(spec, state, x, o);
    },
    vjp(spec, state, x, dy, mode, o) {
      use();
      return batchNormVjp(spec, state, x, dy, mode, o);
    },
  };
}

/** What both kinds of engine share: name, capabilities, uploads, shapes and disposal. */
async function engineBase(
  backend: TfjsBackendName,
  options: TfjsEngineOptions,
): Promise<EngineBase<tf.Tensor> & { readonly backend: TfjsBackendName }> {
  await registerTfjsGradients();
  await initialiseBackend(backend, options);
  await registerFusedKernels(backend);
  const use = () => activate(backend);
  const ok: Support = { ok: true };
  return {
    name: `tfjs-${backend}`,
    backend,
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
    shapeOf: (t) => t.shape,
    owns: isTfTensor,
    reshape(t, shape) {
      use();
      return reshapeTensor(t, shape);
    },
    row(t, index) {
      use();
      return tensorRow(t, index);
    },
    stateFromHost(state) {
      use();
      return uploadState(state);
    },
    dispose(...tensors) {
      for (const t of tensors) if (t && !t.isDisposed) t.dispose();
    },
    retain: (t) => tf.keep(t),
  };
}
