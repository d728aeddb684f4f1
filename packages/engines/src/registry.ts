import { createReferenceEngine, UnsupportedError, type Engine } from '@normbridge/core';

/** Engines that run in Node on the CPU: the default set of `--engine all` before GPUs. */
export const CPU_ENGINE_NAMES = ['nb-wasm', 'tfjs-cpu', 'tfjs-wasm', 'ort-node', 'ort-web-wasm', 'reference-f64'] as const;
/** GPU engines that run in Node: tfjs WebGPU through Dawn (the `webgpu` npm package), ONNX Runtime's WebGPU EP. */
export const NODE_GPU_ENGINE_NAMES = ['tfjs-webgpu', 'ort-node-webgpu'] as const;
/** Engines the browser mode (`--browser`, headless Chromium) runs. */
export const BROWSER_ENGINE_NAMES = ['tfjs-webgl', 'tfjs-webgpu', 'ort-web-wasm', 'ort-web-webgpu'] as const;

/**
 * Every engine known by name: the CLI's `--engine`, the demo's backends, the conformance
 * matrix's columns. The default, `nb-wasm`, is the fastest exact engine here (the fused
 * WebAssembly SIMD kernels on worker threads; `pnpm bench` compares them all).
 */
export const ENGINE_NAMES = [...new Set([...CPU_ENGINE_NAMES, ...NODE_GPU_ENGINE_NAMES, ...BROWSER_ENGINE_NAMES])] as readonly EngineName[];
export type EngineName =
  | (typeof CPU_ENGINE_NAMES)[number]
  | (typeof NODE_GPU_ENGINE_NAMES)[number]
  | (typeof BROWSER_ENGINE_NAMES)[number];
export const DEFAULT_ENGINE: EngineName = 'nb-wasm';

/**
 * Creates an engine by name: the one place that maps a name to an engine package, for the CLI,
 * the demo page and the conformance suite (in Node and in its browser page). Engines load their
 * backends lazily, so that a missing optional backend only affects its own row of the matrix.
 */
export async function createEngineByName(name: EngineName): Promise<Engine<any>> {
  switch (name) {
    case 'tfjs-cpu':
    case 'tfjs-wasm':
    case 'tfjs-webgl':
    case 'tfjs-webgpu': {
      const { createTfjsEngine } = await import('@normbridge/tfjs');
      return createTfjsEngine(name.slice('tfjs-'.length) as 'cpu' | 'wasm' | 'webgl' | 'webgpu');
    }
    case 'ort-node':
    case 'ort-node-webgpu':
    case 'ort-web-wasm':
    case 'ort-web-webgpu': {
      const { createOrtEngine } = await import('@normbridge/onnx');
      return createOrtEngine({ backend: name.slice('ort-'.length) as 'node' | 'node-webgpu' | 'web-wasm' | 'web-webgpu' });
    }
    case 'nb-wasm': {
      const { createWasmEngine } = await import('@normbridge/wasm');
      return createWasmEngine();
    }
    case 'reference-f64':
      return createReferenceEngine();
    default:
      throw new UnsupportedError(`engine ${JSON.stringify(name)}`, `known engines are ${ENGINE_NAMES.join(', ')}`);
  }
}
