/**
 * nb-wasm: normbridge's own WebAssembly engine. Tensors live in one WebAssembly memory (see
 * tensor.ts); the fused SIMD kernels of `kernels/batchnorm.c` run on them in place, each
 * data-sized pass split over worker threads that share the memory (pool.ts):
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
  mapStateTensors,
  memoryBlocks,
  numel,
  referenceEval,
  referenceTrain,
  referenceVjp,
  resolveLayout,
  ShapeError,
  STATE_TENSOR_KEYS,
  statisticsShape,
  UnsupportedError,
  updateRunningStatistic,
  updatesRunningStatistics,
  usesBatchStatistics,
  varianceForRunningAverage,
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
import { ALGORITHM_CODE, compileKernels, instantiateKernels, SHARED_MAX_MEMORY_BYTES, type KernelExports } from './kernels.js';
import { Heap } from './heap.js';
import { createThreadPool, type ThreadPool } from './pool.js';
import { isNode, importNodeBuiltin } from './runtime.js';
import { allocateTensor, hostView, WasmTensor } from './tensor.js';

export interface WasmEngineOptions {
  /**
   * Threads that run one call's kernels, the calling thread included. Threads need Node's
   * worker_threads; elsewhere only 1 is accepted.
   * @default the machine's cores, at most 4, in Node (`os.availableParallelism()`); 1 elsewhere
   */
  readonly threads?: number;
  /**
   * Fewest elements worth giving a thread: a call on a smaller tensor runs on fewer threads
   * (below about 32K floats, 128 KiB, waking a worker and joining it costs what the part saves).
   * @default 32768
   */
  readonly minElementsPerThread?: number;
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
const DEFAULT_MIN_ELEMENTS_PER_THREAD = 32_768;
const PAGE = 65536;
const F64 = 8;
const F32 = 4;

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
  const minPart = options.minElementsPerThread ?? DEFAULT_MIN_ELEMENTS_PER_THREAD;
  if (!Number.isInteger(minPart) || minPart < 1) {
    throw new UnsupportedError(`nb-wasm minElementsPerThread = ${String(minPart)}`, 'it must be a positive integer');
  }
  const shared = threads > 1;
  const module = await compileKernels(shared ? 'shared' : 'plain');
  if (module === undefined) {
    throw new UnsupportedError('engine nb-wasm', 'its kernels were not built (clang + lld when @normbridge/wasm was built) or this runtime lacks WebAssembly SIMD');
  }
  const memory = new WebAssembly.Memory({ initial: 16, maximum: Math.floor(limit / PAGE), shared });
  const kernels = instantiateKernels(module, memory);
  const heap = new Heap(memory, Math.floor(limit / PAGE) * PAGE);
  const pool = shared ? await createThreadPool(threads, memory, module, kernels) : undefined;
  return wasmEngine(memory, heap, kernels, pool, threads, minPart);
}

async function defaultThreads(): Promise<number> {
  if (!isNode()) return 1;
  const os = await importNodeBuiltin<typeof import('node:os')>('node:os');
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, os.availableParallelism?.() ?? os.cpus().length));
}

function wasmEngine(
  memory: WebAssembly.Memory,
  heap: Heap,
  k: KernelExports,
  pool: ThreadPool | undefined,
  threads: number,
  minElementsPerThread: number,
): WasmEngine {
  const owns = (v: unknown): v is T => v instanceof WasmTensor && v.belongsTo(heap);
  const allocate = (shape: readonly number[], dtype: HostTensor['dtype'] = 'float32') => allocateTensor(memory, heap, shape, dtype);
  const upload = (t: HostTensor, dtype: HostTensor['dtype'] = t.dtype): T => {
    const out = allocate(t.shape, dtype);
    out.view().set(t.data);
    return out;
  };
  const fromHost = (t: HostTensor): T => (checkHostTensor('tensor', t), upload(t));

  /** Runs `body` with `bytes` of scratch memory, freed afterwards whatever happens. */
  const withScratch = <R>(bytes: number, body: (at: number) => R): R => {
    const at = heap.alloc(bytes);
    try {
      return body(at);
    } finally {
      heap.free(at);
    }
  };
  /** Outputs allocated by `body` are disposed if it throws, so a failed call leaks nothing. */
  const producing = <R>(body: (out: <U extends T>(t: U) => U) => R): R => {
    const made: T[] = [];
    try {
      return body((t) => (made.push(t), t));
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  };
  const partsFor = (b: MemoryBlocks, units: number) =>
    Math.max(1, Math.min(threads, units, Math.floor((b.outer * b.channels * b.inner) / minElementsPerThread)));
  const unitsOf = (b: MemoryBlocks) => (b.inner === 1 ? b.outer : b.outer * b.channels);
  const run: ThreadPool['run'] = (kernel, units, parts, args) => {
    if (pool) pool.run(kernel, units, parts, args);
    else (k[kernel] as (...a: number[]) => void)(...args(0, units, 0));
  };

  /**
   * The memory blocks when the kernels can run this call: every tensor is this engine's and
   * float32 (float16/bfloat16 are held as float32), no mask or replica axis, and the feature
   * axes consecutive in ascending order (so channel order is the spec's).
   */
  const kernelBlocks = (layout: Layout, tensors: (T | undefined)[], options: StepOptions<T>): MemoryBlocks | undefined => {
    if (options.mask !== undefined || options.replicas !== undefined) return undefined;
    if (!tensors.every((t) => t === undefined || t.dtype !== 'float64')) return undefined;
    if (!layout.featureAxes.every((a, i) => i === 0 || a > layout.featureAxes[i - 1]!)) return undefined;
    return memoryBlocks(layout);
  };

  interface Moments {
    readonly mean: T;
    readonly variance: T;
    /** The same statistics in float64, for the running averages. */
    readonly mean64: Float64Array;
    readonly var64: Float64Array;
  }
  const moments = (spec: BatchNormSpec, layout: Layout, x: T, b: MemoryBlocks, out: <U extends T>(t: U) => U): Moments => {
    const C = b.channels;
    const units = unitsOf(b);
    const parts = partsFor(b, units);
    const algorithm = ALGORITHM_CODE[spec.varianceAlgorithm];
    const n = b.outer * b.inner;
    const mean = out(allocate(statisticsShape(layout)));
    const variance = out(allocate(statisticsShape(layout)));
    // shift, mean64, var64, then one sum + square-sum pair per part.
    return withScratch(F64 * C * (3 + 2 * parts), (shift) => {
      const mean64 = shift + F64 * C;
      const var64 = mean64 + F64 * C;
      const sums = var64 + F64 * C;
      new Float64Array(memory.buffer, sums, 2 * C * parts).fill(0);
      k.bn_shift(x.offset, C, b.inner, algorithm, n === 0 ? 1 : 0, shift);
      run('bn_sums', units, parts, (u0, u1, p) => {
        const sum = sums + p * 2 * C * F64;
        return [x.offset, u0, u1, C, b.inner, algorithm, shift, sum, sum + C * F64];
      });
      k.bn_finalize_moments(C, n, algorithm, parts, shift, sums, mean.offset, variance.offset, mean64, var64);
      return {
        mean,
        variance,
        mean64: new Float64Array(memory.buffer, mean64, C).slice(),
        var64: new Float64Array(memory.buffer, var64, C).slice(),
      };
    });
  };

  const normalize = (spec: BatchNormSpec, state: BatchNormState<T>, x: T, b: MemoryBlocks, mean: T, variance: T, y: T) => {
    const C = b.channels;
    const units = unitsOf(b);
    withScratch(F32 * 3 * C, (m) => {
      const kk = m + F32 * C;
      const bias = kk + F32 * C;
      k.bn_normalize_factors(C, spec.epsilon, mean.offset, variance.offset, spec.scale ? state.scale!.offset : 0, spec.bias ? state.bias!.offset : 0, m, kk, bias);
      run('bn_normalize_units', units, partsFor(b, units), (u0, u1) => [x.offset, y.offset, u0, u1, C, b.inner, m, kk, bias]);
    });
  };

  /** The new running statistics of a train step, in float64 from the batch's float64 statistics. */
  const nextRunning = (spec: BatchNormSpec, state: BatchNormState<T>, layout: Layout, s: Moments, out: <U extends T>(t: U) => U): BatchNormState<T> => {
    if (!updatesRunningStatistics(spec, 'train')) return state;
    const tracked = state.numBatchesTracked + 1;
    const oldMean = state.runningMean!;
    const oldVar = state.runningVar!;
    const runningMean = out(allocate(oldMean.shape, oldMean.dtype));
    const runningVar = out(allocate(oldVar.shape, oldVar.dtype));
    const [rm, rv, om, ov] = [runningMean.view(), runningVar.view(), oldMean.view(), oldVar.view()];
    for (let c = 0; c < layout.channels; c++) {
      rm[c] = updateRunningStatistic(spec, om[c]!, s.mean64[c]!, tracked);
      rv[c] = updateRunningStatistic(spec, ov[c]!, varianceForRunningAverage(spec, s.var64[c]!, layout.perChannel), tracked);
    }
    return { ...state, runningMean, runningVar, numBatchesTracked: tracked };
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
  const stateTensors = (s: BatchNormState<T>) => STATE_TENSOR_KEYS.map((key) => s[key]);

  // The reference reads the engine's memory through host views; its float64 results are
  // rounded once into the input's dtype (new state tensors into their old dtype).
  const hostState = (s: BatchNormState<T>): HostState => mapStateTensors(s, hostView);
  const hostOptions = (o: StepOptions<T>): StepOptions<HostTensor> => ({ ...o, mask: o.mask === undefined ? undefined : hostView(o.mask) });

  const engine: WasmEngine = {
    name: 'nb-wasm',
    synchronous: true,
    threads,
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
      const out = allocate(rest, t.dtype);
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
      const b = kernelBlocks(layout, [x, ...stateTensors(state)], options);
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
        const s = moments(spec, layout, x, b, out);
        const y = out(allocate(x.shape, x.dtype));
        normalize(spec, state, x, b, s.mean, s.variance, y);
        return { y, batchMean: s.mean, batchVar: s.variance, state: nextRunning(spec, state, layout, s, out) };
      });
    },

    evaluate(spec, state, x, options = {}): T {
      const layout = layoutFor(spec, state, x, 'eval', options);
      const b = kernelBlocks(layout, [x, ...stateTensors(state)], options);
      return producing((out) => {
        if (b === undefined) return out(upload(referenceEval(spec, hostState(state), hostView(x), hostOptions(options)), x.dtype));
        const y = out(allocate(x.shape, x.dtype));
        if (!usesBatchStatistics(spec, 'eval')) {
          normalize(spec, state, x, b, state.runningMean!, state.runningVar!, y);
          return y;
        }
        const s = moments(spec, layout, x, b, out);
        normalize(spec, state, x, b, s.mean, s.variance, y);
        s.mean.dispose();
        s.variance.dispose();
        return y;
      });
    },

    vjp(spec, state, x, dy, mode, options = {}): Gradients<T> {
      checkOwned('cotangent', dy);
      if (dy.shape.length !== x.shape.length || dy.shape.some((d, i) => d !== x.shape[i])) {
        throw new ShapeError('cotangent', `shape [${x.shape.join(', ')}]`, dy.shape);
      }
      const layout = layoutFor(spec, state, x, mode, options);
      const b = kernelBlocks(layout, [x, dy, ...stateTensors(state)], options);
      return producing((out) => {
        if (b === undefined) {
          const r = referenceVjp(spec, hostState(state), hostView(x), hostView(dy), mode, hostOptions(options));
          return {
            dx: out(upload(r.dx, x.dtype)),
            dScale: r.dScale && out(upload(r.dScale, state.scale?.dtype ?? x.dtype)),
            dBias: r.dBias && out(upload(r.dBias, state.bias?.dtype ?? x.dtype)),
          };
        }
        const C = b.channels;
        const units = unitsOf(b);
        const parts = partsFor(b, units);
        const batch = usesBatchStatistics(spec, mode);
        const s = batch ? moments(spec, layout, x, b, (t) => t) : undefined;
        try {
          const mean = s ? s.mean : state.runningMean!;
          const variance = s ? s.variance : state.runningVar!;
          const dScale = allocate(layout.featureShape);
          const dBias = allocate(layout.featureShape);
          const dx = out(allocate(x.shape, x.dtype));
          try {
            // k, c0, c1, then one dy-sum + (dy·(x - mean))-sum pair per part.
            withScratch(F32 * 3 * C + F64 * 2 * C * parts + F64, (kk) => {
              const c0 = kk + F32 * C;
              const c1 = c0 + F32 * C;
              const sums = Math.ceil((c1 + F32 * C) / F64) * F64;
              new Float64Array(memory.buffer, sums, 2 * C * parts).fill(0);
              run('bn_grad_sums', units, parts, (u0, u1, p) => {
                const at = sums + p * 2 * C * F64;
                return [x.offset, dy.offset, u0, u1, C, b.inner, mean.offset, at, at + C * F64];
              });
              const scale = spec.scale ? state.scale!.offset : 0;
              k.bn_grad_factors(C, b.outer * b.inner, spec.epsilon, batch ? 1 : 0, variance.offset, scale, parts, sums, dScale.offset, dBias.offset, kk, c0, c1);
              run('bn_grad_dx', units, parts, (u0, u1) => [x.offset, dy.offset, dx.offset, u0, u1, C, b.inner, mean.offset, kk, c0, c1]);
            });
          } catch (e) {
            dScale.dispose();
            dBias.dispose();
            throw e;
          }
          if (!spec.scale) dScale.dispose();
          if (!spec.bias) dBias.dispose();
          return { dx, dScale: spec.scale ? dScale : undefined, dBias: spec.bias ? dBias : undefined };
        } finally {
          s?.mean.dispose();
          s?.variance.dispose();
        }
      });
    },

    memory: () => ({ liveBytes: heap.liveBytes, memoryBytes: memory.buffer.byteLength }),
    close: async () => pool?.close(),
  };
  return engine;
}
