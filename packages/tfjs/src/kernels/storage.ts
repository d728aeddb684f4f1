import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Where a backend keeps tensor values, as float32 views: the one thing a typed-array kernel
 * needs to know about its backend. Allocate every output before taking any view: the wasm
 * heap may grow on allocation, which detaches earlier views.
 */
export interface KernelStorage {
  output(shape: readonly number[]): TensorInfo;
  view(t: TensorInfo): Float32Array;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

/** tfjs-backend-cpu: values are JavaScript typed arrays in the backend's data map. */
export function cpuStorage(backend: unknown): KernelStorage {
  const cpu = backend as CpuBackendLike;
  return {
    output: (shape) => cpu.makeTensorInfo([...shape], 'float32', new Float32Array(size(shape))),
    view(t) {
      const values = cpu.data.get(t.dataId).values;
      if (!(values instanceof Float32Array)) throw new TypeError(`fused BatchNorm kernels take float32 tensors, got ${t.dtype}`);
      return values;
    },
  };
}

export interface WasmBackendLike {
  wasm: { HEAPF32: Float32Array; asm: { memory: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** tfjs-backend-wasm: values live in the module's heap at each tensor's `memoryOffset`. */
export function wasmStorage(backend: unknown): KernelStorage & { offset(t: TensorInfo): number } {
  const wasm = backend as WasmBackendLike;
  const offset = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId).memoryOffset;
  return {
    output: (shape) => wasm.makeOutput([...shape], 'float32'),
    offset,
    view(t) {
      if (t.dtype !== 'float32') throw new TypeError(`fused BatchNorm kernels take float32 tensors, got ${t.dtype}`);
      return new Float32Array(wasm.wasm.HEAPF32.buffer, offset(t), size(t.shape));
    },
  };
}
