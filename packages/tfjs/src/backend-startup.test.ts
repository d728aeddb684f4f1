import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { defineSpec, hostTensor, initialState, referenceTrain, UnsupportedError } from '@normbridge/core';
import { createTfjsEngine } from './index.js';
import { expectClose, PROPERTY_TOLERANCE } from '@normbridge/testing';

// Each test file runs in its own worker, so these registrations never reach other files.
describe('starting a backend', () => {
  it('a backend whose factory throws fails with the factory’s own error, not a bare "false"', async () => {
    tf.registerBackend('webgpu', async () => {
      throw new Error('requestAdapter() found no adapter (test cause)');
    });
    const error = await createTfjsEngine('webgpu').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect((error as Error).message).toContain('requestAdapter() found no adapter (test cause)');
    tf.removeBackend('webgpu');
  });

  it('a backend the caller registered is used as it is, without loading its package', async () => {
    // An application that registered its own instance under the backend's name.
    const own = new MathBackendCPU();
    tf.removeBackend('cpu');
    tf.registerBackend('cpu', () => own);
    const engine = await createTfjsEngine('cpu');
    expect(tf.findBackend('cpu')).toBe(own);
    const spec = defineSpec({});
    const hx = hostTensor([4, 3], Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3));
    const hstate = initialState(spec, [3]);
    const out = engine.train(spec, engine.stateFromHost(hstate), engine.fromHost(hx));
    expectClose(engine.toHost(out.y), referenceTrain(spec, hstate, hx).y, PROPERTY_TOLERANCE, 'y');
  });
});
