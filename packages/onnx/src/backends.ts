/**
 * Loading the two ONNX Runtime flavours. Both are imported lazily, so that export, import and
 * folding work where neither native library nor WebAssembly is wanted, and a missing native
 * binary does not break the WebAssembly backend.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { GraphBuilder } from './proto/builder.js';

export type OrtBackend = 'node' | 'web-wasm';
export const ORT_BACKENDS: readonly OrtBackend[] = ['node', 'web-wasm'];

type TensorConstructor = new (type: Tensor.Type, data: Tensor.DataType, dims?: readonly number[]) => Tensor;
type SessionFactory = { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };

/** One ONNX Runtime flavour, loaded: its own Tensor class and session factory. */
export interface LoadedBackend {
  readonly backend: OrtBackend;
  readonly engineName: 'ort-node' | 'ort-web-wasm';
  readonly Tensor: TensorConstructor;
  readonly InferenceSession: SessionFactory;
  readonly sessionOptions: InferenceSession.SessionOptions;
}

/** Options that reach ONNX Runtime's session. */
export interface BackendOptions {
  /**
   * Threads inside one operator (onnxruntime-node only; the WebAssembly backend always runs on
   * one thread here).
   * @default ONNX Runtime's choice (the number of physical cores)
   */
  readonly intraOpNumThreads?: number | undefined;
}

const loaded = new Map<string, Promise<LoadedBackend>>();

export function loadBackend(backend: OrtBackend, options: BackendOptions = {}): Promise<LoadedBackend> {
  const key = `${backend}:${options.intraOpNumThreads ?? ''}`;
  let p = loaded.get(key);
  if (!p) {
    p = backend === 'node' ? loadNode(options) : loadWebWasm();
    // A failed load is not cached, so that a later call reports the failure again.
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}

async function loadNode(options: BackendOptions): Promise<LoadedBackend> {
  const ort = await import('onnxruntime-node');
  return {
    backend: 'node',
    engineName: 'ort-node',
    Tensor: ort.Tensor as unknown as TensorConstructor,
    InferenceSession: ort.InferenceSession,
    sessionOptions: {
      executionProviders: ['cpu'],
      logSeverityLevel: 3,
      ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    },
  };
}

async function loadWebWasm(): Promise<LoadedBackend> {
  const ort = await import('onnxruntime-web');
  // In Node the bundle cannot fetch its .wasm from a web server: point it at the package's own
  // dist folder. One thread, because the threaded build needs worker threads and cross-origin
  // isolation semantics that a plain Node process does not provide.
  const require = createRequire(import.meta.url);
  ort.env.wasm.wasmPaths = `${dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'))}/`;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return {
    backend: 'web-wasm',
    engineName: 'ort-web-wasm',
    Tensor: ort.Tensor as unknown as TensorConstructor,
    InferenceSession: ort.InferenceSession,
    sessionOptions: { executionProviders: ['wasm'], logSeverityLevel: 3 },
  };
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
    const ort = await loadBackend(backend);
    const g = new GraphBuilder('float32');
    g.output('y', g.op('Identity', [g.input('x', g.elemType, [1])]));
    const session = await ort.InferenceSession.create(g.build().bytes, ort.sessionOptions);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1]) });
    await session.release();
    return out.y?.data[0] === 1;
  } catch {
    return false; // a missing native library or .wasm file: not available here
  }
}
