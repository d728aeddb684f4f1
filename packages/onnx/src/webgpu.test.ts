import { defineSpec, initialState, referenceTrain } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { createOrtEngine, type OrtEngine } from './index.js';
import { expectClose } from '@normbridge/testing';
import { randomTensor, TOL } from './test-support/data.js';

/**
 * onnxruntime-node's WebGPU provider (Dawn) on whatever Vulkan driver the loader finds. The
 * scripts point it at SwiftShader and set NORMBRIDGE_REQUIRE_WEBGPU=1, so that in CI a missing
 * adapter fails here instead of skipping.
 */
const required = process.env.NORMBRIDGE_REQUIRE_WEBGPU === '1';
let engine: OrtEngine | undefined;
let cause = '';
try {
  engine = await createOrtEngine({ backend: 'node-webgpu' });
} catch (error) {
  if (required) throw error;
  cause = (error as Error).message;
}

describe.skipIf(engine === undefined)(`ort-node-webgpu${cause ? ` (skipped: ${cause})` : ''}`, () => {
  it('trains through the primitive graph (the provider has no BatchNormalization training mode)', async () => {
    const spec = defineSpec({ featureAxes: [1] });
    expect(engine!.describeGraph(spec, 'train', 'train').kind).toBe('primitive');
    expect(engine!.describeGraph(spec, 'eval', 'eval').kind).toBe('batchnorm-node');
    const host = initialState(spec, [3]);
    const x = randomTensor([4, 3, 5], 7);
    const out = await engine!.train(spec, engine!.stateFromHost(host), engine!.fromHost(x));
    const ref = referenceTrain(spec, host, x);
    expectClose(await engine!.toHost(out.y), ref.y, TOL.float32, 'y');
    expectClose(await engine!.toHost(out.state.runningVar!), ref.state.runningVar!, TOL.float32, 'running var');
  });

  it('computes float64 inputs in float32 (WebGPU has no float64) and says so in its capabilities', async () => {
    expect(engine!.capabilities.dtypes).toEqual(['float32']);
    const x = engine!.fromHost(randomTensor([2, 3], 8, 'float64'));
    expect(x.type).toBe('float32');
  });
});
