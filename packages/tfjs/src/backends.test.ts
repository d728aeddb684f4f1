import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, hostTensor, initialState, referenceEval, referenceTrain } from '@normbridge/core';
import { availableTfjsBackends, createAsyncTfjsEngine, createTfjsEngine, registerTfjsGradients } from './index.js';
import { expectClose, normals, PROPERTY_TOLERANCE } from '@normbridge/testing';

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

  it('an asynchronous engine awaits the synchronous calls: same values, its own backend, a refusal as a rejection', async () => {
    const sync = await createTfjsEngine('cpu');
    const wasm = await createTfjsEngine('wasm');
    const engine = await createAsyncTfjsEngine('cpu');
    expect([engine.name, engine.synchronous]).toEqual(['tfjs-cpu', false]);
    const spec = defineSpec({ featureAxes: [1] });
    const hx = hostTensor([4, 3, 5], Float32Array.from(normals(60, 7)));
    const hdy = hostTensor([4, 3, 5], Float32Array.from(normals(60, 8)));
    const hstate = initialState(spec, [3]);
    const on = <T>(e: { stateFromHost: (s: typeof hstate) => T }) => e.stateFromHost(hstate);
    const want = {
      train: sync.toHost(sync.train(spec, on(sync), sync.fromHost(hx)).y),
      evaluate: sync.toHost(sync.evaluate(spec, on(sync), sync.fromHost(hx))),
      dx: sync.toHost(sync.vjp(spec, on(sync), sync.fromHost(hx), sync.fromHost(hdy), 'train').dx),
    };
    wasm.fromHost(hx); // another backend active: each call makes its own the active one
    const train = engine.train(spec, on(engine), engine.fromHost(hx));
    expect(train).toBeInstanceOf(Promise);
    expect(await engine.toHost((await train).y)).toEqual(want.train);
    expect(tf.getBackend()).toBe('cpu');
    expect(await engine.toHost(await engine.evaluate(spec, on(engine), engine.fromHost(hx)))).toEqual(want.evaluate);
    expect(await engine.toHost((await engine.vjp(spec, on(engine), engine.fromHost(hx), engine.fromHost(hdy), 'train')).dx)).toEqual(want.dx);
    // Four channels against a three-channel state: the synchronous error arrives as a rejected promise.
    const wrong = engine.fromHost(hostTensor([2, 4], new Float32Array(8)));
    let call: Promise<unknown> | undefined;
    expect(() => (call = engine.evaluate(spec, on(engine), wrong))).not.toThrow();
    await expect(call).rejects.toThrow();
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
