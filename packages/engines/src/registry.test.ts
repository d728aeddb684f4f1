import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '@normbridge/core';
import { BROWSER_ENGINE_NAMES, CPU_ENGINE_NAMES, createEngineByName, DEFAULT_ENGINE, ENGINE_NAMES, NODE_GPU_ENGINE_NAMES, type EngineName } from './registry.js';

describe('engine registry', () => {
  it('lists every engine once, the default among them', () => {
    expect(new Set(ENGINE_NAMES).size).toBe(ENGINE_NAMES.length);
    for (const name of [...CPU_ENGINE_NAMES, ...NODE_GPU_ENGINE_NAMES, ...BROWSER_ENGINE_NAMES]) expect(ENGINE_NAMES).toContain(name);
    expect(ENGINE_NAMES).toContain(DEFAULT_ENGINE);
  });

  it.each(CPU_ENGINE_NAMES)('creates %s, an engine of that name', async (name) => {
    const engine = await createEngineByName(name);
    expect(engine.name).toBe(name);
  });

  it('refuses an unknown name with a typed error listing the known ones', async () => {
    const bad = createEngineByName('tfjs-gpu' as EngineName);
    await expect(bad).rejects.toThrow(UnsupportedError);
    await expect(createEngineByName('tfjs-gpu' as EngineName)).rejects.toThrow(/tfjs-wasm/);
  });
});
