import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, hostTensor, initialState, referenceEval, referenceTrain } from '@normbridge/core';
import { availableTfjsBackends, createTfjsEngine, registerTfjsGradients } from './index.js';
import { expectClose, normals } from '@normbridge/testing';
import { PROPERTY_TOLERANCE } from './test-support/tolerance.js';

describe('backends in one process', () => {
  it('Node can initialise cpu and wasm, not webgl; webgpu where Dawn finds a Vulkan adapter', async () => {
    const found = await availableTfjsBackends();
    expect(found.slice(0, 2)).toEqual(['cpu', 'wasm']);
    expect(found).not.toContain('webgl');
    // The scripts point Dawn at SwiftShader and require it (see webgpu.test.ts).
    if (process.env.NORMBRIDGE_REQUIRE_WEBGPU === '1') expect(found).toContain('webgpu');
  });

  it('engines are named after their backend and report their capabilities', async () => {
    const [cpu, wasm] = await Promise.all([createTfjsEngine('cpu'), createTfjsEngine('wasm')]);
    expect([cpu.name, wasm.name]).toEqual(['tfjs-cpu', 'tfjs-wasm']);
    expect(cpu.synchronous).toBe(true);
    expect(cpu.capabilities).toEqual({ gradients: true, dtypes: ['float32'], masks: true, crossReplica: true, arithmetic: 'input' });
    expect(cpu.supports(defineSpec({}), 'train', [2, 3])).toEqual({ ok: true });
    expect(cpu.supports(defineSpec({}), 'train', [1, 1, 1, 1, 1, 1, 2]).ok).toBe(false);
  });

  it('interleaved calls each run on their own engine’s backend', async () => {
    const cpu = await createTfjsEngine('cpu');
    const wasm = await createTfjsEngine('wasm');
    const spec = defineSpec({ featureAxes: [1] });
    const hx = hostTensor([4, 3, 5], Float32Array.from(normals(60, 5)));
    const hstate = initialState(spec, [3]);
    for (const engine of [cpu, wasm, cpu, wasm]) {
      const out = engine.train(spec, engine.stateFromHost(hstate), engine.fromHost(hx));
      expect(tf.getBackend()).toBe(engine.backend);
      expectClose(engine.toHost(out.y), referenceTrain(spec, hstate, hx).y, PROPERTY_TOLERANCE, `${engine.name} y`);
    }
  });

  it('registering gradients twice is harmless', async () => {
    await registerTfjsGradients();
    await registerTfjsGradients();
    expect(tf.getGradient('Square')).toBeDefined();
    expect(typeof (tf.ones([1]) as unknown as { square: unknown }).square).toBe('function');
  });

  // tensorflow/tfjs#1106: the CPU batchNorm kernel walks its statistics cyclically over the
  // flat input, which is only right for channels-last. NCHW must not go through it.
  it.each(['cpu', 'wasm'] as const)('an NCHW feature axis is normalised correctly on %s (tfjs#1106)', async (backend) => {
    const engine = await createTfjsEngine(backend);
    const spec = defineSpec({ featureAxes: [1] });
    const hx = hostTensor([2, 3, 4, 4], Float32Array.from(normals(96, 6), (v) => 2 * v + 1));
    const hstate = { ...initialState(spec, [3]), runningMean: hostTensor([3], [0.5, -1, 2]), runningVar: hostTensor([3], [0.5, 2, 4]) };
    const state = engine.stateFromHost(hstate);
    const x = engine.fromHost(hx);
    expectClose(engine.toHost(engine.evaluate(spec, state, x)), referenceEval(spec, hstate, hx), PROPERTY_TOLERANCE, 'eval');
    expectClose(engine.toHost(engine.train(spec, state, x).y), referenceTrain(spec, hstate, hx).y, PROPERTY_TOLERANCE, 'train');
  });
});
