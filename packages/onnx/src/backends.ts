/**
 * Loading the ONNX Runtime flavours. Each is imported lazily, so that export, import and
 * folding work where neither native library nor WebAssembly is wanted, and a missing native
 * binary does not break the WebAssembly backend. Nothing here imports a Node module
 * statically: the package bundles for a browser, where the `web-*` backends run.
 */
import { importNodeBuiltin, isNode } from '@normbridge/core';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { GraphBuilder } from './proto/builder.js';

/**
 * `node`: onnxruntime-node's native CPU library; `node-webgpu`: its WebGPU execution provider
 * (Dawn, in the same native library); `web-wasm`: onnxruntime-web's WebAssembly build;
 * `web-webgpu`: onnxruntime-web's WebGPU provider (browsers with `navigator.gpu`).
 */
export type OrtBackend = 'node' | 'node-webgpu' | 'web-wasm' | 'web-webgpu';
export const ORT_BACKENDS: readonly OrtBackend[] = ['node', 'node-webgpu', 'web-wasm', 'web-webgpu'];

type TensorConstructor = new (type: Tensor.Type, data: Tensor.DataType, dims?: readonly number[]) => Tensor;
type SessionFactory = { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
type OrtModule = { Tensor: unknown; InferenceSession: SessionFactory; env: { wasm: Record<string, unknown>; logLevel?: string } };

/** One ONNX Runtime flavour, loaded: its own Tensor class and session factory. */
export interface LoadedBackend {
  readonly backend: OrtBackend;
  readonly engineName: `ort-${OrtBackend}`;
  readonly Tensor: TensorConstructor;
  readonly InferenceSession: SessionFactory;
  readonly sessionOptions: InferenceSession.SessionOptions;
  /**
   * Whether BatchNormalization's training mode runs here. ONNX Runtime's WebGPU provider
   * rejects it ("BatchNormalization trainingMode is not supported yet"): training calls take
   * the primitive graph there.
   */
  readonly trainingNode: boolean;
  /** Whether float64 kernels exist (WebGPU has no float64: such inputs are computed in float32). */
  readonly float64: boolean;
}

/** Options that reach ONNX Runtime's session. */
export interface BackendOptions {
  /**
   * Threads inside one operator (onnxruntime-node only; the WebAssembly backend always runs on
   * one thread here).
   * @default ONNX Runtime's choice (the number of physical cores)
   */
  readonly intraOpNumThreads?: number | undefined;
  /**
   * Where onnxruntime-web's `.wasm` files are served from (a folder URL ending in `/`), for the
   * `web-*` backends in a page.
   * @default in Node, the installed onnxruntime-web `dist/` folder; in a browser, onnxruntime-web's own default (next to its module)
   */
  readonly wasmPaths?: string | undefined;
}

const loaded = new Map<string, Promise<LoadedBackend>>();

export function loadBackend(backend: OrtBackend, options: BackendOptions = {}): Promise<LoadedBackend> {
  if (!ORT_BACKENDS.includes(backend)) {
    return Promise.reject(new Error(`unknown ONNX Runtime backend ${JSON.stringify(backend)}; known: ${ORT_BACKENDS.join(', ')}`));
  }
  const key = `${backend}:${options.intraOpNumThreads ?? ''}:${options.wasmPaths ?? ''}`;
  let p = loaded.get(key);
  if (!p) {
    p = backend.startsWith('node') ? loadNode(backend, options) : loadWeb(backend, options);
    // A failed load is not cached, so that a later call reports the failure again.
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}

/**
 * onnxruntime-node, an optional peer, by name in Node only (a bundler never resolves it). It is
 * imported here, in the package that declares it: an import resolves from the file that makes it.
 */
function importOnnxRuntimeNode(): Promise<OrtModule> {
  const name = 'onnxruntime-node';
  return import(/* @vite-ignore */ name) as Promise<OrtModule>;
}

let nativeModule: Promise<OrtModule> | undefined;

/**
 * Hands onnxruntime-node to the `node` backends (what `@normbridge/onnx/node` does with a
 * static import, for Node bundles); otherwise it is loaded by name, in Node only.
 */
export function provideOnnxruntimeNode(ort: unknown): void {
  nativeModule = Promise.resolve(ort as OrtModule);
}

async function loadNode(backend: OrtBackend, options: BackendOptions): Promise<LoadedBackend> {
  if (!isNode()) throw new Error(`ONNX Runtime backend "${backend}" needs Node (onnxruntime-node); in a browser use web-wasm or web-webgpu`);
  nativeModule ??= importOnnxRuntimeNode().catch((error: unknown) => {
    nativeModule = undefined;
    throw new Error(`onnxruntime-node (an optional peer dependency) could not be loaded: ${(error as Error).message}`);
  });
  const ort = await nativeModule;
  return loadedBackend(backend, ort, backend === 'node-webgpu' ? 'webgpu' : 'cpu', {
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  });
}

async function loadWeb(backend: OrtBackend, options: BackendOptions): Promise<LoadedBackend> {
  const ort = (await import('onnxruntime-web')) as unknown as OrtModule;
  // In Node the bundle cannot fetch its .wasm from a web server: point it at the package's own
  // dist folder. One thread, because the threaded build needs worker threads and cross-origin
  // isolation semantics that a plain Node process (or a plain page) does not provide.
  const paths = options.wasmPaths ?? (isNode() ? await nodeWasmFolder() : undefined);
  if (paths !== undefined) ort.env.wasm.wasmPaths = paths;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return loadedBackend(backend, ort, backend === 'web-webgpu' ? 'webgpu' : 'wasm');
}

/** A loaded runtime on one execution provider; on WebGPU the training node and float64 are missing. */
function loadedBackend(backend: OrtBackend, ort: OrtModule, provider: 'cpu' | 'wasm' | 'webgpu', sessionOptions: InferenceSession.SessionOptions = {}): LoadedBackend {
  const webgpu = provider === 'webgpu';
  return {
    backend,
    engineName: `ort-${backend}`,
    Tensor: ort.Tensor as TensorConstructor,
    InferenceSession: ort.InferenceSession,
    sessionOptions: { executionProviders: [provider], logSeverityLevel: 3, ...sessionOptions },
    trainingNode: !webgpu,
    float64: !webgpu,
  };
}

async function nodeWasmFolder(): Promise<string> {
  const { createRequire } = await importNodeBuiltin<typeof import('node:module')>('node:module');
  const { dirname } = await importNodeBuiltin<typeof import('node:path')>('node:path');
  return `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'))}/`;
}

/** The backends that load and run a one-node model in this process (the answer is cached). */
export function availableOrtBackends(): Promise<OrtBackend[]> {
  available ??= (async () => {
    const out: OrtBackend[] = [];
    for (const b of ORT_BACKENDS) if (await probe(b)) out.push(b);
    return out;
  })();
  return available;
}

let available: Promise<OrtBackend[]> | undefined;

async function probe(backend: OrtBackend): Promise<boolean> {
  try {
    await checkBackendRuns(await loadBackend(backend));
    return true;
  } catch {
    return false; // a missing native library, .wasm file or GPU adapter: not available here
  }
}

/**
 * Runs a one-node model, so that a backend that loads but cannot create a session (no GPU
 * adapter for WebGPU) fails at engine creation with its own error, not on the first step.
 */
export async function checkBackendRuns(ort: LoadedBackend): Promise<void> {
  const g = new GraphBuilder('float32');
  g.output('y', g.op('Identity', [g.input('x', g.elemType, [1])]));
  const session = await ort.InferenceSession.create(g.build().bytes, ort.sessionOptions);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1]) });
    const value = await out.y?.getData();
    if (value?.[0] !== 1) throw new Error(`${ort.engineName}: a one-node model returned ${String(value?.[0])}, not 1`);
  } finally {
    await session.release();
  }
}
