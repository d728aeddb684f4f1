import type { AsyncEngine, BatchNormSpec, Mode } from '@normbridge/core';
import type { Tensor } from 'onnxruntime-node';
import type { BackendOptions, OrtBackend } from '../backends.js';
import type { GraphChoice, StepOp } from '../graph/plan.js';
import type { CacheStats } from '../session-cache.js';
import type { FloatType } from './tensors.js';

export interface OrtEngineOptions extends BackendOptions {
  /**
   * Which ONNX Runtime runs the graphs: the native CPU library of onnxruntime-node (`node`) or
   * its WebGPU provider (`node-webgpu`), onnxruntime-web's WebAssembly build (`web-wasm`,
   * single-threaded) or its WebGPU provider (`web-webgpu`, in a browser).
   * @default 'node'
   */
  readonly backend?: OrtBackend | undefined;
  /**
   * `auto` uses ONNX's BatchNormalization node wherever its semantics are the spec's (see the
   * README's table); `primitive` always uses the graph of primitive ops (for comparisons).
   * @default 'auto'
   */
  readonly graph?: 'auto' | 'primitive' | undefined;
  /**
   * Sessions kept at once; the least recently used one is released beyond this.
   * @default 64
   */
  readonly maxCachedSessions?: number | undefined;
}

/** What {@link OrtEngine.describeGraph} needs to know about a call besides the spec. */
export interface GraphQuery {
  /** The input's dtype. @default 'float32' */
  readonly dtype?: FloatType | undefined;
  /** A mask tensor is passed. @default false */
  readonly masked?: boolean | undefined;
  /** A leading replica axis is in use. @default false */
  readonly replicated?: boolean | undefined;
}

/** An {@link AsyncEngine} over ONNX Runtime tensors, plus its session cache. */
export interface OrtEngine extends AsyncEngine<Tensor> {
  readonly backend: OrtBackend;
  /** Models built and sessions held: a repeated call with the same graph key builds nothing. */
  readonly cacheStats: CacheStats;
  /** Which graph (BatchNormalization node or primitive ops) a call would use, and why. */
  describeGraph(spec: BatchNormSpec, op: StepOp, mode: Mode, query?: GraphQuery): GraphChoice;
  /** Releases every cached session. */
  release(): Promise<void>;
}
