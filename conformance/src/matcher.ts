import type {} from 'vitest';
import { getDefaultEngine, type Engine } from '@normbridge/core';
import { linen } from '@normbridge/flax';
import { loadFixture } from './fixture-load.js';
import { describeFailure } from './results.js';
import { runCase } from './runner.js';
import { matchAs, type MatchAsOptions } from './translate/match-as.js';

/**
 * `await expect(layer).toMatchFixture(path)`: replays a fixture (a folder or its manifest)
 * through a user's own adapter layer — a `@normbridge/torch` module, an MLX `BatchNorm`, a
 * Keras `BatchNormalization`, an NNX or linen `BatchNorm` — on that layer's engine (for a linen
 * module, core's default engine), and fails naming the step, tensor and worst element. The
 * fixture's initial state is loaded into the layer first.
 *
 * Register once, e.g. in a vitest setup file:
 * ```ts
 * import { expect } from 'vitest';
 * import { normbridgeMatchers } from '@normbridge/conformance';
 * expect.extend(normbridgeMatchers);
 * ```
 *
 * With `{ as }` the fixture may come from another framework (a PyTorch capture checked against
 * a Keras port): it is translated as `normbridge conformance --as` does, the layer's eps and
 * momentum must be what the port needs, and differences must be explained by conventions.
 */
export const normbridgeMatchers = {
  async toMatchFixture(received: unknown, path: string, options?: MatchAsOptions) {
    if (options?.as !== undefined) return matchAs(received, path, options);
    // A linen module is a pure definition without an engine of its own: its `apply` computes on
    // core's default engine unless given one, so that is the engine it is checked on.
    const engine =
      (received as { engine?: Engine<any> } | null)?.engine ?? (received instanceof linen.Module ? getDefaultEngine() : undefined);
    if (!engine || typeof engine.fromHost !== 'function') {
      return { pass: false, message: () => 'toMatchFixture expects a normbridge layer (an object with an `engine`)' };
    }
    const fixture = await loadFixture(path);
    const result = await runCase(fixture, engine, received);
    if (result.status === 'n/a') {
      return { pass: false, message: () => `fixture ${result.fixture} does not apply to this layer: ${result.reason}` };
    }
    const pass = result.status === 'pass';
    return {
      pass,
      message: () =>
        pass
          ? `expected layer not to match ${result.fixture}, but every step matched`
          : describeFailure(result),
    };
  },
};

declare module 'vitest' {
  interface Matchers<T = any> {
    /** Replays a normbridge fixture through this layer; see {@link normbridgeMatchers}. */
    toMatchFixture(path: string, options?: import('./translate/match-as.js').MatchAsOptions): Promise<T>;
  }
}
