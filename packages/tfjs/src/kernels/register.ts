import * as tf from '@tensorflow/tfjs-core';
import { cpuKernelConfigs } from './cpu/register_all_kernels.js';
import { FUSED_KERNELS } from './kernel_names.js';
import { wasmKernelConfigs } from './wasm/register_all_kernels.js';
import { attachSimd, compileSimdModule, simdKernels } from './wasm/simd.js';

const REGISTRIES: Readonly<Record<string, readonly tf.KernelConfig[]>> = { cpu: cpuKernelConfigs, wasm: wasmKernelConfigs };

/**
 * Registers the fused BatchNorm kernels for an initialised tfjs backend, once per process
 * (tfjs's kernel registry is global). Backends without a registry here (webgl, webgpu)
 * keep the engine's composed tfjs ops; a registry added for them is picked up the same way.
 */
export async function registerFusedKernels(backendName: string): Promise<void> {
  for (const config of REGISTRIES[backendName] ?? []) {
    if (tf.getKernel(config.kernelName, backendName) === undefined) tf.registerKernel(config);
  }
  if (backendName === 'wasm') {
    const backend = tf.findBackend('wasm');
    const module = await compileSimdModule();
    if (backend !== null && module !== undefined && simdKernels(backend) === undefined) attachSimd(backend, module);
  }
}

/** The active backend has every fused kernel. */
export function fusedKernelsActive(): boolean {
  const backend = tf.getBackend();
  return FUSED_KERNELS.every((name) => tf.getKernel(name, backend) !== undefined);
}

/** How the wasm backend runs the fused kernels in this process: for benchmarks and reports. */
export function wasmKernelFlavour(): 'simd' | 'loops' | 'absent' {
  const backend = tf.findBackend('wasm');
  if (backend === null) return 'absent';
  return simdKernels(backend) ? 'simd' : 'loops';
}
