import { createReferenceEngine, type Engine } from '@normbridge/core';

/**
 * Engines the conformance suite knows by name. The default, `tfjs-wasm`, is the fastest exact
 * engine here (its fused WebAssembly SIMD kernels; `pnpm bench` compares them all).
 */
export const ENGINE_NAMES = ['tfjs-cpu', 'tfjs-wasm', 'ort-node', 'ort-web-wasm', 'reference-f64'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export const DEFAULT_ENGINE: EngineName = 'tfjs-wasm';

/**
 * Creates an engine by name. Engines load their backends lazily so that a missing optional
 * backend only affects its own row of the matrix.
 */
export async function createEngineByName(name: EngineName): Promise<Engine<any>> {
  switch (name) {
    case 'tfjs-cpu':
    case 'tfjs-wasm': {
      const { createTfjsEngine } = await import('@normbridge/tfjs');
      return createTfjsEngine(name === 'tfjs-cpu' ? 'cpu' : 'wasm');
    }
    case 'ort-node':
    case 'ort-web-wasm': {
      const { createOrtEngine } = await import('@normbridge/onnx');
      return createOrtEngine({ backend: name === 'ort-node' ? 'node' : 'web-wasm' });
    }
    case 'reference-f64':
      return createReferenceEngine();
  }
}

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}
