import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, hostTensor, initialState, referenceEval, referenceTrain, referenceVjp } from '@normbridge/core';
import { createTfjsEngine, type AsyncTfjsEngine } from './index.js';
import { expectClose, normals, PROPERTY_TOLERANCE } from '@normbridge/testing';

/**
 * WebGPU in Node: Dawn (the `webgpu` npm package) on whatever Vulkan driver the loader finds.
 * The scripts point it at SwiftShader and set NORMBRIDGE_REQUIRE_WEBGPU=1, so that in CI a
 * missing adapter fails here instead of skipping; elsewhere the block is skipped with its cause.
 */
const required = process.env.NORMBRIDGE_REQUIRE_WEBGPU === '1';
let engine: AsyncTfjsEngine | undefined;
let cause = '';
try {
  engine = await createTfjsEngine('webgpu');
} catch (error) {
  if (required) throw error;
  cause = (error as Error).message;
}

describe.skipIf(engine === undefined)(`tfjs-webgpu in Node${cause ? ` (skipped: ${cause})` : ''}`, () => {
  const e = () => engine!;

  it('is asynchronous: results are read back with await, never dataSync', async () => {
    expect(e().synchronous).toBe(false);
    const spec = defineSpec({ featureAxes: [1] });
    const hx = hostTensor([4, 3, 5], Float32Array.from(normals(60, 11), (v) => 2 * v + 1));
    const hstate = initialState(spec, [3]);
    const out = await e().train(spec, e().stateFromHost(hstate), e().fromHost(hx));
    const ref = referenceTrain(spec, hstate, hx);
    expectClose(await e().toHost(out.y), ref.y, PROPERTY_TOLERANCE, 'y');
    expectClose(await e().toHost(out.state.runningMean!), ref.state.runningMean!, PROPERTY_TOLERANCE, 'running mean');
    expectClose(await e().toHost(out.state.runningVar!), ref.state.runningVar!, PROPERTY_TOLERANCE, 'running var');
    const dy = hostTensor([4, 3, 5], Float32Array.from(normals(60, 12)));
    const g = await e().vjp(spec, e().stateFromHost(hstate), e().fromHost(hx), e().fromHost(dy), 'train');
    expectClose(await e().toHost(g.dx), referenceVjp(spec, hstate, hx, dy, 'train').dx, PROPERTY_TOLERANCE, 'dx');
  });

  // The WebGPU batchNorm shader computes x·inv − mean·inv: on a mean-1000 channel with variance
  // 1e-4 (inv = 100) that rounds to steps of ~0.008. Centring first keeps float32 accuracy.
  it('centres before scaling on a large-mean, small-variance channel (no fused-kernel rounding)', async () => {
    const spec = defineSpec({});
    const hx = hostTensor([16, 2], Float32Array.from({ length: 32 }, (_, i) => 1000 + ((i * 7) % 13) * 0.01));
    const hstate = { ...initialState(spec, [2]), runningMean: hostTensor([2], [1000, 1000]), runningVar: hostTensor([2], [1e-4, 1e-4]) };
    const y = await e().evaluate(spec, e().stateFromHost(hstate), e().fromHost(hx));
    expectClose(await e().toHost(y), referenceEval(spec, hstate, hx), { atol: 1e-3, rtol: 1e-5 }, 'eval y');
  });

  it('leaves no tensor behind once the caller disposes what it got', async () => {
    const spec = defineSpec({});
    const hstate = initialState(spec, [4]);
    const before = tf.memory().numTensors;
    const state = e().stateFromHost(hstate);
    const x = e().fromHost(hostTensor([8, 4], Float32Array.from(normals(32, 13))));
    const out = await e().train(spec, state, x);
    await e().toHost(out.y);
    e().dispose(out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar, x);
    e().dispose(state.scale, state.bias, state.runningMean, state.runningVar);
    expect(tf.memory().numTensors).toBe(before);
  });
});
