import * as tf from '@tensorflow/tfjs-core';
import { importNodeBuiltin, isNode, UnsupportedError } from '@normbridge/core';
import { provideNodeWebGpu } from './node-webgpu.js';
import { importOptionalPeer } from './optional-peer.js';

export const TFJS_BACKENDS = ['cpu', 'wasm', 'webgl', 'webgpu'] as const;
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

/** How a backend is brought up. Only the wasm backend has settings. */
export interface TfjsBackendOptions {
  /**
   * Where the wasm binaries are: a folder prefix (ending in `/`) or a map from binary name to
   * path or URL. In a browser this is usually the URL your bundler serves them from.
   * @default in Node, the installed `@tensorflow/tfjs-backend-wasm` `dist/` folder; elsewhere tfjs's own default
   */
  readonly wasmPaths?: string | Readonly<Record<string, string>> | undefined;
  /**
   * Use the SIMD wasm binary where the runtime validates SIMD. Threads are always off: the
   * threaded binary needs cross-origin isolation in browsers and is unsupported in Node.
   * @default true
   */
  readonly wasmSimd?: boolean | undefined;
}

/**
 * Backends whose packages are not dependencies of normbridge. A page registers them with a
 * static import (`import '@normbridge/tfjs/webgpu'`, or the tfjs package itself), which any
 * bundler resolves; in Node they are loaded by name when the application installed them.
 */
const OPTIONAL_PACKAGES: Partial<Record<TfjsBackendName, { pkg: string; entry: string; needs: string }>> = {
  webgl: {
    pkg: '@tensorflow/tfjs-backend-webgl',
    entry: '@normbridge/tfjs/webgl',
    needs: 'a browser (or worker) with WebGL 2; Node has no WebGL',
  },
  webgpu: {
    pkg: '@tensorflow/tfjs-backend-webgpu',
    entry: '@normbridge/tfjs/webgpu',
    needs: 'navigator.gpu: a WebGPU browser, or in Node the `webgpu` npm package (Dawn) and a Vulkan driver',
  },
};

/**
 * Registers and initialises a backend, leaving it active. A backend the caller has already
 * initialised (or registered) is used as it is. Throws UnsupportedError with the real cause
 * (the factory's own error) if it cannot start.
 */
export async function initialiseBackend(name: TfjsBackendName, options: TfjsBackendOptions = {}): Promise<void> {
  if (!(TFJS_BACKENDS as readonly string[]).includes(name)) {
    throw new UnsupportedError(`tfjs backend "${name}"`, `known backends are ${TFJS_BACKENDS.join(', ')}`);
  }
  if (!isInitialised(name)) {
    let starting = startingBackends.get(name);
    if (!starting) {
      starting = (async () => {
        // wasm's paths and flags must be set before its factory runs, whoever registered it.
        if (name === 'wasm') await prepareWasm(options);
        else if (tf.findBackendFactory(name) === null) await register(name, options);
        if (!isInitialised(name)) await startRegistered(name);
      })().finally(() => startingBackends.delete(name));
      startingBackends.set(name, starting);
    }
    await starting;
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new UnsupportedError(`tfjs backend "${name}"`, 'tfjs could not make it the active backend');
  if (name === 'cpu') silenceNodeBanner();
}

/** Start-ups in flight, so that concurrent engines on one backend share one instance. */
const startingBackends = new Map<TfjsBackendName, Promise<void>>();

/**
 * Whether tfjs holds an instance of the backend. (tf.findBackend would itself start a
 * registered factory, and for an asynchronous one return null meanwhile.)
 */
function isInitialised(name: TfjsBackendName): boolean {
  const registry = (tf.engine() as unknown as { registry?: Record<string, unknown> }).registry;
  return registry?.[name] != null;
}

/** Loads the module that registers `name`'s factory with tfjs. */
async function register(name: TfjsBackendName, options: TfjsBackendOptions): Promise<void> {
  if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    return;
  }
  const optional = OPTIONAL_PACKAGES[name]!;
  const fail = (why: string) => new UnsupportedError(`tfjs backend "${name}"`, `${why}; it needs ${optional.needs}`);
  if (!isNode()) {
    throw fail(`no "${name}" backend is registered: import '${optional.entry}' (or '${optional.pkg}') in the page before creating the engine`);
  }
  // tfjs-backend-webgpu registers its factory only if navigator.gpu exists when it loads.
  if (name === 'webgpu') await provideNodeWebGpu().catch((error: unknown) => Promise.reject(fail(String(error))));
  try {
    await importOptionalPeer(optional.pkg);
  } catch (error) {
    throw fail(`${optional.pkg} could not be loaded (${String(error)})`);
  }
  if (tf.findBackendFactory(name) === null) throw fail(`${optional.pkg} loaded but registered no backend`);
}

/**
 * Runs the registered factory ourselves and registers the instance it made, so that a factory
 * that throws reports its own error (tfjs's setBackend only logs it and returns false).
 */
async function startRegistered(name: TfjsBackendName): Promise<void> {
  const factory = tf.findBackendFactory(name)!;
  let instance: tf.KernelBackend;
  try {
    instance = await factory();
  } catch (error) {
    const needs = OPTIONAL_PACKAGES[name]?.needs;
    throw new UnsupportedError(`tfjs backend "${name}"`, `it failed to start: ${describe(error)}${needs ? ` (it needs ${needs})` : ''}`);
  }
  const priority = registeredPriority(name);
  tf.removeBackend(name);
  tf.registerBackend(name, () => instance, priority);
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return error === null ? 'null (no adapter or context)' : String(error);
}

/** The priority the backend was registered with (tfjs keeps it on its registry). */
function registeredPriority(name: string): number {
  const registry = (tf.engine() as unknown as { registryFactory?: Record<string, { priority?: number }> }).registryFactory;
  return registry?.[name]?.priority ?? 1;
}

async function prepareWasm(options: TfjsBackendOptions): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Paths and flags are read once, when the module first initialises.
  if (isInitialised('wasm')) return;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (options.wasmSimd === false) tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
  const paths = options.wasmPaths ?? (await defaultWasmFolder());
  if (paths !== undefined) wasm.setWasmPaths(typeof paths === 'string' ? paths : { ...paths });
}

/** The wasm package's dist folder in Node, where its `.wasm` binaries sit next to its entry point. */
async function defaultWasmFolder(): Promise<string | undefined> {
  if (!isNode()) return undefined;
  const { createRequire } = await importNodeBuiltin<typeof import('node:module')>('node:module');
  const path = await importNodeBuiltin<typeof import('node:path')>('node:path');
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return path.dirname(entry) + path.sep;
}

/**
 * The CPU backend prints a one-time banner recommending tfjs-node on first use in Node;
 * normbridge deliberately runs without native bindings, so the advice is noise here.
 */
function silenceNodeBanner(): void {
  const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (backend && 'firstUse' in backend) backend.firstUse = false;
}

/**
 * Makes `name` the active tfjs backend. Backends here were initialised by `initialiseBackend`,
 * and tfjs switches to an initialised backend before `setBackend`'s promise is even returned,
 * so engine calls stay synchronous.
 */
export function activate(name: TfjsBackendName): void {
  if (tf.engine().backendName === name) return;
  // The check below reports a failure; the promise must not become an unhandled rejection.
  tf.setBackend(name).catch(() => undefined);
  if (tf.engine().backendName !== name || tf.findBackend(name) === null) {
    throw new UnsupportedError(`tfjs backend "${name}"`, 'it has not been initialised in this process (use createTfjsEngine)');
  }
}

let probed: Promise<TfjsBackendName[]> | undefined;

/**
 * The backends that initialise in this process, in the order of {@link TFJS_BACKENDS}. Probing
 * initialises them; the previously active backend is restored afterwards.
 */
export function availableTfjsBackends(options: TfjsBackendOptions = {}): Promise<TfjsBackendName[]> {
  probed ??= probe(options);
  return probed;
}

async function probe(options: TfjsBackendOptions): Promise<TfjsBackendName[]> {
  const previous = tf.engine().backendName;
  const found: TfjsBackendName[] = [];
  for (const name of TFJS_BACKENDS) {
    try {
      await initialiseBackend(name, options);
      found.push(name);
    } catch {
      // Not available here; the reason is reported by createTfjsEngine when asked for it.
    }
  }
  if (previous && tf.findBackend(previous) !== null) await tf.setBackend(previous);
  return found;
}
