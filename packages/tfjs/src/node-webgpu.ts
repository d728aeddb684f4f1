import { importOptionalPeer } from './optional-peer.js';

/**
 * In Node, gives tfjs-backend-webgpu the `navigator.gpu` it looks for, from the `webgpu` npm
 * package (Dawn's Node bindings; an optional peer). Dawn picks the Vulkan driver the loader
 * finds: a real GPU's, or SwiftShader's when `VK_ICD_FILENAMES` points at its ICD (as the
 * conformance scripts do). A runtime that already has `navigator.gpu` is left as it is.
 */
export async function provideNodeWebGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> };
  try {
    dawn = await importOptionalPeer('webgpu');
  } catch (error) {
    throw new Error(`the "webgpu" npm package (Dawn) could not be loaded: ${(error as Error).message}`);
  }
  // GPUBufferUsage, GPUMapMode, … are globals in a browser; the backend refers to them by name.
  for (const [key, value] of Object.entries(dawn.globals)) {
    if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}
