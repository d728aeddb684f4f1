import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { wasmStorage, type KernelStorage } from '../storage.js';
import { simdKernels, type SimdKernels } from './simd.js';

/** The wasm heap as a SIMD kernel sees it: outputs to allocate, tensors as byte offsets (0 for an absent one). */
export interface WasmHeap extends KernelStorage {
  at(t: TensorInfo | undefined): number;
}

/**
 * A fused BatchNorm kernel of the wasm backend: the SIMD module's version when the backend has
 * it (see simd.ts), else the cpu backend's typed-array loops run on views of the wasm heap.
 */
export function wasmKernel<I>(
  kernelName: string,
  withLoops: (storage: KernelStorage, inputs: I, attrs: NamedAttrMap) => TensorInfo | TensorInfo[],
  withSimd: (simd: SimdKernels, heap: WasmHeap, inputs: I, attrs: NamedAttrMap) => TensorInfo | TensorInfo[],
): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend, attrs }) => {
      const storage = wasmStorage(backend);
      const simd = simdKernels(backend);
      if (simd === undefined) return withLoops(storage, inputs as I, attrs!);
      const heap: WasmHeap = { ...storage, at: (t) => (t === undefined ? 0 : storage.offset(t)) };
      return withSimd(simd, heap, inputs as I, attrs!);
    }) as KernelFunc,
  };
}
