/**
 * The ONNX Runtime engine: every call runs one cached session. Shape and state checks run once
 * per call (core's layout checks); state values are checked when state enters from the host.
 */
import {
  checkReshape,
  checkStateValues,
  mapStateTensors,
  resolveLayout,
  runningAverageWeights,
  ShapeError,
  SpecError,
  updatesRunningStatistics,
  type BatchNormSpec,
  type BatchNormState,
  type EngineCapabilities,
  type Gradients,
  type HostState,
  type HostTensor,
  type Mode,
  type StepOptions,
  type Support,
  type TrainOutput,
} from '@normbridge/core';
import type { Tensor } from 'onnxruntime-node';
import { checkBackendRuns, loadBackend, type LoadedBackend, type OrtBackend } from '../backends.js';
import { NAMES } from '../graph/io.js';
import { chooseGraph, type GraphChoice, type StepOp } from '../graph/plan.js';
import { buildStepGraph } from '../graph/step.js';
import { buildVjpGraph } from '../graph/vjp.js';
import { SessionCache, type CacheStats } from '../session-cache.js';
import { prepareCall, type CallContext } from './prepare.js';
import { adopt, elemTypeOfTensor, isOrtTensor, tensorFromHost, tensorRow, tensorToHost } from './tensors.js';
import type { GraphQuery, OrtEngine, OrtEngineOptions } from './types.js';

export type { GraphQuery, OrtEngine, OrtEngineOptions } from './types.js';

const CAPABILITIES: EngineCapabilities = { gradients: true, dtypes: ['float32', 'float64'], masks: true, crossReplica: true, arithmetic: 'input' };

/**
 * Loads the backend (lazily: the other backend and its native or WebAssembly code are never
 * touched) and returns an engine named `ort-<backend>` (`ort-node`, `ort-web-wasm`, …).
 */
export async function createOrtEngine(options: OrtEngineOptions = {}): Promise<OrtEngine> {
  const maxSessions = options.maxCachedSessions ?? 64;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    throw new SpecError('maxCachedSessions', maxSessions, 'must be a positive integer');
  }
  const backend = await loadBackend(options.backend ?? 'node', options);
  // A GPU provider with no adapter loads fine and fails on its first session: say so now.
  if (backend.backend.endsWith('webgpu')) await checkBackendRuns(backend);
  return new OrtEngineImpl({ ort: backend, primitiveOnly: options.graph === 'primitive' }, new SessionCache(backend, maxSessions));
}

type StateIn = BatchNormState<Tensor>;

class OrtEngineImpl implements OrtEngine {
  readonly synchronous = false;
  readonly capabilities: EngineCapabilities;
  readonly name: string;
  readonly backend: OrtBackend;
  readonly #ort: LoadedBackend;

  constructor(
    private readonly ctx: CallContext,
    private readonly cache: SessionCache,
  ) {
    this.#ort = ctx.ort;
    this.name = ctx.ort.engineName;
    this.backend = ctx.ort.backend;
    this.capabilities = ctx.ort.float64 ? CAPABILITIES : { ...CAPABILITIES, dtypes: ['float32'] };
  }

  get cacheStats(): CacheStats {
    return this.cache.stats;
  }

  /** Every spec, mode and dtype is supported, gradients included; only an input the spec cannot resolve is not. */
  supports(spec: BatchNormSpec, _mode: Mode, inputShape: readonly number[]): Support {
    try {
      resolveLayout(spec, inputShape);
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    return { ok: true };
  }

  describeGraph(spec: BatchNormSpec, op: StepOp, mode: Mode, query: GraphQuery = {}): GraphChoice {
    return chooseGraph(spec, op, mode, {
      dtype: query.dtype ?? 'float32',
      masked: query.masked ?? false,
      replicated: query.replicated ?? false,
      primitiveOnly: this.ctx.primitiveOnly,
      trainingNode: this.ctx.ort.trainingNode,
    });
  }

  fromHost(t: HostTensor): Tensor {
    return tensorFromHost(this.#ort, t);
  }

  toHost(t: Tensor): Promise<HostTensor> {
    return tensorToHost(t);
  }

  shapeOf(t: Tensor): readonly number[] {
    return t.dims;
  }

  owns(v: unknown): v is Tensor {
    return isOrtTensor(this.#ort, v);
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    checkReshape(t.dims, shape);
    return adopt(this.#ort, t).reshape([...shape]);
  }

  row(t: Tensor, index: number): Tensor {
    return tensorRow(this.#ort, t, index);
  }

  stateFromHost(state: HostState): StateIn {
    checkStateValues(state);
    return mapStateTensors(state, (t) => this.fromHost(t));
  }

  dispose(...tensors: (Tensor | undefined)[]): void {
    for (const t of tensors) t?.dispose();
  }

  /** ORT tensors live until disposed: there is no scope to outlive. */
  retain(t: Tensor): Tensor {
    return t;
  }

  release(): Promise<void> {
    return this.cache.clear();
  }

  async train(spec: BatchNormSpec, state: StateIn, x: Tensor, options: StepOptions<Tensor> = {}): Promise<TrainOutput<Tensor>> {
    const call = prepareCall(this.ctx, spec, 'train', 'train', state, x, options);
    const updates = updatesRunningStatistics(spec, 'train');
    const tracked = state.numBatchesTracked + 1;
    if (updates) {
      // Exactly the reference's weight of the old value, as a tensor in the compute dtype.
      const a = runningAverageWeights(spec.runningAverage, tracked).oldWeight;
      call.feeds[NAMES.averageWeight] = new this.#ort.Tensor(call.dtype, call.dtype === 'float64' ? Float64Array.of(a) : Float32Array.of(a), []);
    }
    const out = await this.cache.run(
      call.key,
      () => buildStepGraph({ ...call.graph, op: 'train', averageWeight: updates ? { kind: 'input', elemType: call.graph.x.elemType } : undefined }),
      call.feeds,
    );
    const next: StateIn = updates
      ? { ...state, runningMean: out[NAMES.runningMean], runningVar: out[NAMES.runningVar], numBatchesTracked: tracked }
      : state;
    return { y: out[NAMES.y]!, batchMean: out[NAMES.batchMean]!, batchVar: out[NAMES.batchVar]!, state: next };
  }

  async evaluate(spec: BatchNormSpec, state: StateIn, x: Tensor, options: StepOptions<Tensor> = {}): Promise<Tensor> {
    const call = prepareCall(this.ctx, spec, 'eval', 'eval', state, x, options);
    const out = await this.cache.run(call.key, () => buildStepGraph({ ...call.graph, op: 'eval' }), call.feeds);
    return out[NAMES.y]!;
  }

  async vjp(spec: BatchNormSpec, state: StateIn, x: Tensor, dy: Tensor, mode: Mode, options: StepOptions<Tensor> = {}): Promise<Gradients<Tensor>> {
    if (dy.dims.length !== x.dims.length || dy.dims.some((d, i) => d !== x.dims[i])) {
      throw new ShapeError('cotangent', `shape [${x.dims.join(', ')}]`, dy.dims);
    }
    const call = prepareCall(this.ctx, spec, 'vjp', mode, state, x, options, dy);
    const dyType = { kind: 'input', elemType: elemTypeOfTensor(dy) } as const;
    const out = await this.cache.run(call.key, () => buildVjpGraph({ ...call.graph, mode, dy: dyType }), call.feeds);
    return { dx: out[NAMES.dx]!, dScale: spec.scale ? out[NAMES.dScale] : undefined, dBias: spec.bias ? out[NAMES.dBias] : undefined };
  }
}
