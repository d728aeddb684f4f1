import { describe, vi } from 'vitest';
import { consecutiveCaseArb } from '@normbridge/testing';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';
import { referenceProperties } from './test-support/properties.js';

// Only cpu chooses the rows view for non-trailing features; forcing it everywhere runs its
// repeated per-channel vectors and lane sums through wasm's kernels and the plain-op
// branches of channel-ops too, the code webgl or webgpu would run if they ever chose it.
vi.mock('./channel-ops.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('./channel-ops.js')>()),
  preferRowsView: () => true,
}));

describe.each(TEST_BACKENDS)('the rows view forced for non-trailing features on tfjs-%s', (backend) => {
  referenceProperties(useEngine(backend), consecutiveCaseArb);
});
