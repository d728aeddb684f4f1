import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedError } from '@normbridge/core';
import { importNodeBuiltin, isNode } from './node.js';

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

/** Packages that are not dependencies of normbridge: loaded only if the application installed them. */
const OPTIONAL_PACKAGES: Partial<Record<TfjsBackendName, { pkg: string; needs: string }>> = {
  webgl: {
    pkg: '@tensorflow/tfjs-backend-webgl',
    needs: 'a browser (or worker) with WebGL 2 and @tensorflow/tfjs-backend-webgl installed; Node has no WebGL',
  },
  webgpu: {
    pkg: '@tensorflow/tfjs-backend-webgpu',
    needs: 'a runtime with navigator.gpu (a WebGPU browser, or Dawn bindings in Node) and @tensorflow/tfjs-backend-webgpu installed',
  },
};

/** Registers and initialises a backend, leaving it active. Throws UnsupportedError if it cannot start. */
export async function initialiseBackend(name: TfjsBackendName, options: TfjsBackendOptions = {}): Promise<void> {
  if (!(TFJS_BACKENDS as readonly string[]).includes(name)) {
    throw new UnsupportedError(`tfjs backend ${JSON.stringify(name)}`, `known backends are ${TFJS_BACKENDS.join(', ')}`);
  }
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (name === 'wasm') await prepareWasm(options);
  else await importOptional(name);

  const previous = tf.engine().backendName;
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    cause = error;
  }
  if (!ok) {
    // A failed setBackend leaves tfjs pointing at a backend with no instance.
    if (previous && previous !== name && tf.findBackend(previous) !== null) await tf.setBackend(previous);
    const needs = OPTIONAL_PACKAGES[name]?.needs ?? 'its initialisation failed';
    throw new UnsupportedError(`tfjs backend "${name}"`, `${needs}${cause ? ` (${String(cause)})` : ''}`);
  }
  if (name === 'cpu') silenceNodeBanner();
}

async function prepareWasm(options: TfjsBackendOptions): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Paths and flags are read once, when the module first initialises.
  if (tf.findBackend('wasm') !== null) return;
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

async function importOptional(name: TfjsBackendName): Promise<void> {
  const optional = OPTIONAL_PACKAGES[name]!;
  // A variable specifier keeps bundlers and TypeScript from requiring the package at build time.
  const specifier = optional.pkg;
  try {
    await import(/* @vite-ignore */ specifier);
  } catch (error) {
    throw new UnsupportedError(`tfjs backend "${name}"`, `${optional.needs} (${String(error)})`);
  }
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
