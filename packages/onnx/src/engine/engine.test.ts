import { describe, it } from 'vitest';
import { checkCase, ENGINE_CASES } from '../test-support/cases.js';
import { createOrtEngine, type OrtEngineOptions } from './engine.js';

// Every case against the float64 reference: training steps, inference, and both vjps.
const CONFIGS: readonly OrtEngineOptions[] = [
  { backend: 'node', graph: 'auto' },
  { backend: 'node', graph: 'primitive' },
  { backend: 'web-wasm', graph: 'auto' },
];

for (const config of CONFIGS) {
  describe(`ORT engine (${config.backend}, graph ${config.graph})`, () => {
    const engine = createOrtEngine({ ...config, intraOpNumThreads: 1 });
    for (const c of ENGINE_CASES) {
      it(c.name, async () => {
        await checkCase(await engine, c);
      });
    }
  });
}
