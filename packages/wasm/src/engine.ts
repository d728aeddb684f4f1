/**
 * nb-wasm: normbridge's own WebAssembly engine. Tensors live in one WebAssembly memory (see
 * tensor.ts); the fused SIMD kernels of `kernels/batchnorm.c` run on them in place (passes.ts),
 * each data-sized pass split over worker threads that share the memory (pool.ts):
 *
 *     statistics  one pass: float64 sums of x - shift and its square per channel, per thread,
 *                 folded into mean and biased variance (as accurate as two passes)
 *     normalise   y = (x - mean) · k + b,  k = scale / sqrt(var + eps)
 *     backward    float64 sums of dy and dy·(x - mean), then dx in one float32 pass
 *     running     updated per channel in float64 from the float64 batch statistics (core's
 *                 `updateRunningStatistic`, `varianceForRunningAverage`)
 *
 * Inputs the kernels do not cover (masks, replica axes, float64, feature axes that are not
 * consecutive in ascending order) are computed by core's float64 reference, reading the same
 * memory, and rounded once into the input's dtype.
 */
import {
  checkHostTensor,
  checkReshape,
  checkRow,
  checkStateShapes,
  checkStateValues,
  checkValuesPerChannel,
  importNodeBuiltin,
  isNode,
  mapStateTensors,
  memoryBlocks,
  numel,
  referenceEval,
  referenceTrain,
  referenceVjp,
  resolveLayout,
  sameShape,
  ShapeError,
  STATE_TENSOR_KEYS,
  stateTensorsOf,
  UnsupportedError,
  usesBatchStatistics,
  type BatchNormSpec,
  type BatchNormState,
  type Gradients,
  type HostState,
  type HostTensor,
  type Layout,
  type MemoryBlocks,
  type Mode,
  type StepOptions,
  type SyncEngine,
  type TrainOutput,
} from '@normbridge/core';
import { compileKernels, instantiateKernels, SHARED_MAX_MEMORY_BYTES, type KernelExports } from './kernels.js';
import { Heap } from './heap.js';
import { createThreadPool, singleThread, type ThreadPool } from './pool.js';
import { createDevice, producing } from './device.js';
import { gradients, moments, nextRunning, normalize } from './passes.js';
import { hostView, WasmTensor } from './tensor.js';

export interface WasmEngineOptions {
  /**
   * Threads that run one call's kernels, the calling thread included. Threads need Node's
   * worker_threads; elsewhere only 1 is accepted.
   * @default the machine's cores, at most 4, in Node (`os.availableParallelism()`); 1 elsewhere
   */
  readonly threads?: number;
  /**
   * Elements per chunk of a data-sized pass (at most 32 chunks): threads claim chunks one by one,
   * so a tensor of one chunk runs on one thread. The chunks, not the threads, decide how the
   * float64 sums are split, so results are the same bits on any number of threads.
   * @default 65536
   */
  readonly chunkElements?: number;
  /**
   * Most bytes the engine's memory may grow to; an allocation beyond it is a `WasmMemoryError`.
   * @default 2 GiB, all the kernels can address
   */
  readonly maxMemoryBytes?: number;
}

/** The engine, with the thread count it runs and a way to stop its worker threads. */
export interface WasmEngine extends SyncEngine<WasmTensor> {
  readonly threads: number;
  /** Bytes held by live tensors, and the memory's current size (it grows, never shrinks). */
  memory(): { readonly liveBytes: number; readonly memoryBytes: number };
  /** Stops the worker threads; the engine must not be used afterwards. */
  close(): Promise<void>;
}

/** Most threads the default takes: the kernels are memory-bound, and beyond four cores one call's gain is small. */
const MAX_DEFAULT_THREADS = 4;
/** 256 KiB of float32 a chunk: waking a worker and claiming a chunk cost far less than its pass. */
const DEFAULT_CHUNK_ELEMENTS = 65_536;
const PAGE = 65536;

type T = WasmTensor;

/** Creates an nb-wasm engine; an `UnsupportedError` when its kernels were not built or threads are unavailable. */
export async function createWasmEngine(options: WasmEngineOptions = {}): Promise<WasmEngine> {
  const threads = options.threads ?? (await defaultThreads());
  if (!Number.isInteger(threads) || threads < 1) throw new UnsupportedError(`nb-wasm threads = ${String(threads)}`, 'threads must be a positive integer');
  if (threads > 1 && !isNode()) throw new UnsupportedError(`nb-wasm threads = ${threads}`, 'worker threads are implemented for Node only; use threads: 1 here');
  const limit = options.maxMemoryBytes ?? SHARED_MAX_MEMORY_BYTES;
  if (!(limit >= PAGE && limit <= SHARED_MAX_MEMORY_BYTES)) {
    throw new UnsupportedError(`nb-wasm maxMemoryBytes = ${String(limit)}`, `it must lie between ${PAGE} and ${SHARED_MAX_MEMORY_BYTES}`);
  }
  const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  if (!Number.isInteger(chunkElements) || chunkElements < 1) {
    throw new UnsupportedError(`nb-wasm chunkElements = ${String(chunkElements)}`, 'it must be a positive integer');
  }
  const shared = threads > 1;
  const module = await compileKernels(shared ? 'shared' : 'plain');
  if (module === undefined) {
    throw new UnsupportedError('engine nb-wasm', 'its kernels were not built (clang + lld when @normbridge/wasm was built) or this runtime lacks WebAssembly SIMD');
  }
  const memory = new WebAssembly.Memory({ initial: 16, maximum: Math.floor(limit / PAGE), shared });
  const kernels = instantiateKernels(module, memory);
  const heap = new Heap(memory, Math.floor(limit / PAGE) * PAGE);
  const pool = shared ? await createThreadPool(threads, memory, module, kernels) : singleThread(kernels);
  return wasmEngine(memory, heap, kernels, pool, chunkElements);
}

async function defaultThreads(): Promise<number> {
  if (!isNode()) return 1;
  const os = await importNodeBuiltin<typeof import('node:os')>('node:os');
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, os.availableParallelism?.() ?? os.cpus().length));
}

function wasmEngine(memory: WebAssembly.Memory, heap: Heap, k: KernelExports, pool: ThreadPool, chunkElements: number): WasmEngine {
  const owns = (v: unknown): v is T => v instanceof WasmTensor && v.belongsTo(heap);
  const d = createDevice(memory, heap, k, pool, chunkElements);
  const upload = (t: HostTensor, dtype: HostTensor['dtype'] = t.dtype): T => {
    const out = d.allocate(t.shape, dtype);
    out.view().set(t.data);
    return out;
  };
  const fromHost = (t: HostTensor): T => (checkHostTensor('tensor', t), upload(t));

  /**
   * The memory blocks when the kernels can run this call: every tensor is this engine's and
   * float32 (float16/bfloat16 are held as float32), no mask or replica axis, and the feature
   * axes consecutive in ascending order (so channel order is the spec's).
   */
  const kernelBlocks = (layout: Layout, x: T, dy: T | undefined, state: BatchNormState<T>, options: StepOptions<T>): MemoryBlocks | undefined => {
    // Plain loops: the per-call path (ARCHITECTURE.md).
    if (options.mask !== undefined || options.replicas !== undefined) return undefined;
    if (x.dtype === 'float64' || dy?.dtype === 'float64') return undefined;
    for (const t of stateTensorsOf(state)) if (t?.dtype === 'float64') return undefined;
    const axes = layout.featureAxes;
    for (let i = 1; i < axes.length; i++) if (axes[i]! <= axes[i - 1]!) return undefined;
    return memoryBlocks(layout);
  };

  /** Every tensor a call takes must be this engine's (`fromHost` uploads host tensors). */
  const checkOwned = (what: string, t: unknown) => {
    if (t !== undefined && !owns(t)) {
      const shape = Array.isArray((t as { shape?: unknown } | null)?.shape) ? (t as { shape: number[] }).shape : [];
      throw new ShapeError(what, 'a tensor of this nb-wasm engine (engine.fromHost uploads host tensors)', shape);
    }
  };
  const layoutFor = (spec: BatchNormSpec, state: BatchNormState<T>, x: T, mode: Mode, options: StepOptions<T>): Layout => {
    checkOwned('input', x);
    checkOwned('mask', options.mask);
    for (const key of STATE_TENSOR_KEYS) checkOwned(key, state[key]);
    const layout = resolveLayout(spec, x.shape, options.replicas);
    checkValuesPerChannel(spec, layout, mode);
    checkStateShapes(spec, layout, mode, state);
    return layout;
  };

  // The reference reads the engine's memory through host views; its float64 results are
  // rounded once into the input's dtype (new state tensors into their old dtype).
  const hostState = (s: BatchNormState<T>): HostState => mapStateTensors(s, hostView);
  const hostOptions = (o: StepOptions<T>): StepOptions<HostTensor> => ({ ...o, mask: o.mask === undefined ? undefined : hostView(o.mask) });

  const engine: WasmEngine = {
    name: 'nb-wasm',
    synchronous: true,
    threads: pool.threads,
    capabilities: { gradients: true, dtypes: ['float32', 'float64'], masks: true, crossReplica: true, arithmetic: 'input' },
    supports: () => ({ ok: true }),
    fromHost,
    toHost: (t) => (checkOwned('tensor', t), { shape: [...t.shape], data: t.view().slice(), dtype: t.dtype }),
    shapeOf: (t) => t.shape,
    owns,
    reshape(t, shape) {
      checkReshape(t.shape, shape);
      return t.sharing(shape);
    },
    row(t, index) {
      const rest = checkRow(t.shape, index);
      const n = numel(rest);
      const out = d.allocate(rest, t.dtype);
      out.view().set(t.view().subarray(index * n, (index + 1) * n));
      return out;
    },
    stateFromHost(state) {
      checkStateValues(state);
      return mapStateTensors(state, (t, key) => {
        checkHostTensor(key, t);
        return upload(t);
      });
    },
    dispose(...tensors) {
      for (const t of tensors) if (owns(t)) t.dispose();
    },
    retain: (t) => t,

    train(spec, state, x, options = {}): TrainOutput<T> {
      const layout = layoutFor(spec, state, x, 'train', options);
      const b = kernelBlocks(layout, x, undefined, state, options);
      return producing((out) => {
        if (b === undefined) {
          const viewed = hostState(state);
          const r = referenceTrain(spec, viewed, hostView(x), hostOptions(options));
          const next = mapStateTensors(r.state, (t, key) => (t === viewed[key] ? state[key]! : out(upload(t, state[key]!.dtype))));
          return {
            y: out(upload(r.y, x.dtype)),
            batchMean: out(upload(r.batchMean, x.dtype)),
            batchVar: out(upload(r.batchVar, x.dtype)),
            state: next,
          };
        }
        const s = moments(d, spec, layout, x, b, out);
        const y = out(d.allocate(x.shape, x.dtype));
        normalize(d, spec, state, x, b, s.mean, s.variance, y);
        return { y, batchMean: s.mean, batchVar: s.variance, state: nextRunning(d, spec, state, layout, s, out) };
      });
    },

    evaluate(spec, state, x, options = {}): T {
      const layout = layoutFor(spec, state, x, 'eval', options);
      const b = kernelBlocks(layout, x, undefined, state, options);
      return producing((out) => {
        if (b === undefined) return out(upload(referenceEval(spec, hostState(state), hostView(x), hostOptions(options)), x.dtype));
        const y = out(d.allocate(x.shape, x.dtype));
        if (!usesBatchStatistics(spec, 'eval')) {
          normalize(d, spec, state, x, b, state.runningMean!, state.runningVar!, y);
          return y;
        }
        const s = moments(d, spec, layout, x, b, out);
        normalize(d, spec, state, x, b, s.mean, s.variance, y);
        s.mean.dispose();
        s.variance.dispose();
        return y;
      });
    },

    vjp(spec, state, x, dy, mode, options = {}): Gradients<T> {
      checkOwned('cotangent', dy);
      if (!sameShape(dy.shape, x.shape)) {
        throw new ShapeError('cotangent', `shape [${x.shape.join(', ')}]`, dy.shape);
      }
      const layout = layoutFor(spec, state, x, mode, options);
      const b = kernelBlocks(layout, x, dy, state, options);
      return producing((out) => {
        if (b === undefined) {
          const r = referenceVjp(spec, hostState(state), hostView(x), hostView(dy), mode, hostOptions(options));
          return {
            dx: out(upload(r.dx, x.dtype)),
            dScale: r.dScale && out(upload(r.dScale, state.scale?.dtype ?? x.dtype)),
            dBias: r.dBias && out(upload(r.dBias, state.bias?.dtype ?? x.dtype)),
          };
        }
        return gradients(d, spec, state, layout, x, dy, b, usesBatchStatistics(spec, mode), out);
      });
    },

    memory: () => ({ liveBytes: heap.liveBytes, memoryBytes: memory.buffer.byteLength }),
    close: () => pool.close(),
  };
  return engine;
}
