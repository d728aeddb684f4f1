import { defineSpec, initialState, referenceTrain } from '@normbridge/core';
import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { availableOrtBackends } from './backends.js';
import { createOrtEngine } from './engine/engine.js';
import { expectClose } from '@normbridge/testing';
import { randomTensor, TOL } from './test-support/data.js';

describe('backends', () => {
  it('the native library and the .wasm loaded from node_modules run here; web-webgpu needs a browser', async () => {
    const found = await availableOrtBackends();
    expect(found.filter((b) => !b.endsWith('webgpu'))).toEqual(['node', 'web-wasm']);
    expect(found).not.toContain('web-webgpu');
    // The scripts point Dawn (inside onnxruntime-node) at SwiftShader and require it.
    if (process.env.NORMBRIDGE_REQUIRE_WEBGPU === '1') expect(found).toContain('node-webgpu');
    expect((await createOrtEngine()).name).toBe('ort-node');
    expect((await createOrtEngine({ backend: 'web-wasm' })).name).toBe('ort-web-wasm');
  });

  it("the WebAssembly engine accepts onnxruntime-node's tensors (another copy of onnxruntime-common)", async () => {
    const engine = await createOrtEngine({ backend: 'web-wasm' });
    const spec = defineSpec({ featureAxes: [1] });
    const host = initialState(spec, [3]);
    const x = randomTensor([4, 3], 3);
    const out = await engine.train(spec, engine.stateFromHost(host), new ortNode.Tensor('float32', x.data as Float32Array, [4, 3]));
    expectClose(await engine.toHost(out.y), referenceTrain(spec, host, x).y, TOL.float32, 'y');
  });
});
