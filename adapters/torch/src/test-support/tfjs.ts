import type { SyncEngine } from '@normbridge/core';

/** A tfjs engine under test, or why it could not be created. */
export type LoadedEngine = { readonly name: string; readonly engine: SyncEngine<unknown> } | { readonly name: string; readonly error: string };

/**
 * Creates `@normbridge/tfjs` engines (a devDependency, imported by name at run time so that type
 * checking does not depend on its build).
 */
export async function loadTfjsEngines(backends: readonly string[] = ['cpu', 'wasm']): Promise<LoadedEngine[]> {
  const specifier = '@normbridge/tfjs';
  let mod: { createTfjsEngine?: (backend: string) => Promise<SyncEngine<unknown>> };
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as typeof mod;
  } catch (e) {
    return backends.map((b) => ({ name: `tfjs-${b}`, error: `import failed: ${String(e)}` }));
  }
  const create = mod.createTfjsEngine;
  if (typeof create !== 'function') return backends.map((b) => ({ name: `tfjs-${b}`, error: 'createTfjsEngine is not exported yet' }));
  const out: LoadedEngine[] = [];
  for (const b of backends) {
    try {
      out.push({ name: `tfjs-${b}`, engine: await create(b) });
    } catch (e) {
      out.push({ name: `tfjs-${b}`, error: String(e) });
    }
  }
  return out;
}
