import { beforeAll } from 'vitest';
import { createTfjsEngine, type TfjsEngine } from '../engine.js';

/** Every test that touches numerics runs on both backends that Node can initialise. */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

/** Creates the engine once for a describe block; the getter is valid inside tests. */
export function useEngine(backend: (typeof TEST_BACKENDS)[number]): () => TfjsEngine {
  let engine: TfjsEngine | undefined;
  beforeAll(async () => {
    engine = await createTfjsEngine(backend);
  });
  return () => engine!;
}
