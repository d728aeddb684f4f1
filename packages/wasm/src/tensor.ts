/**
 * nb-wasm's tensors: row-major values in the engine's WebAssembly memory. `view()` is a typed
 * array over that memory, valid until the tensor is disposed; `hostView` lends it to host code
 * (the float64 reference) without a copy. A `WasmTensor` is deliberately not a core
 * `HostTensor` (no `data` field): code that holds host tensors may keep them forever, which a
 * view of memory that `dispose` hands to the next tensor cannot allow.
 */
import { numel, UnsupportedError, type Dtype, type HostTensor } from '@normbridge/core';
import type { Heap } from './heap.js';

/** A block of the engine's memory and the handles that share it (reshapes). */
export interface Block {
  readonly offset: number;
  readonly length: number;
  readonly float64: boolean;
  refs: number;
}

export class WasmTensor {
  readonly shape: number[];
  readonly dtype: Dtype;
  readonly #block: Block;
  readonly #memory: WebAssembly.Memory;
  readonly #heap: Heap;
  #view: Float32Array | Float64Array | undefined;
  #disposed = false;

  constructor(memory: WebAssembly.Memory, heap: Heap, block: Block, shape: readonly number[], dtype: Dtype) {
    this.#memory = memory;
    this.#heap = heap;
    this.#block = block;
    this.shape = [...shape];
    this.dtype = dtype;
    block.refs++;
  }

  /** Byte offset of the values in the engine's memory (what the kernels take). */
  get offset(): number {
    this.#check();
    return this.#block.offset;
  }

  /** The values, as a view of the engine's memory (do not keep it past `dispose`). */
  view(): Float32Array | Float64Array {
    this.#check();
    // A plain memory's buffer is replaced when it grows (old views go empty); a shared one's is not.
    if (this.#view === undefined || this.#view.buffer.byteLength === 0) {
      const { offset, length, float64 } = this.#block;
      this.#view = float64 ? new Float64Array(this.#memory.buffer, offset, length) : new Float32Array(this.#memory.buffer, offset, length);
    }
    return this.#view;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Another handle on the same values (a reshape), disposed on its own. */
  sharing(shape: readonly number[]): WasmTensor {
    this.#check();
    return new WasmTensor(this.#memory, this.#heap, this.#block, shape, this.dtype);
  }

  /** Whether `heap` is this tensor's allocator (the engine that owns it). */
  belongsTo(heap: Heap): boolean {
    return this.#heap === heap;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#view = undefined;
    if (--this.#block.refs === 0) this.#heap.free(this.#block.offset);
  }

  #check(): void {
    if (this.#disposed) throw new UnsupportedError('reading an nb-wasm tensor after dispose()', 'its memory may already hold another tensor; keep the tensor until you are done with it');
  }
}

/** A new tensor of `shape` in the engine's memory; float64 only for float64 data. */
export function allocateTensor(memory: WebAssembly.Memory, heap: Heap, shape: readonly number[], dtype: Dtype): WasmTensor {
  const length = numel(shape);
  const float64 = dtype === 'float64';
  const offset = heap.alloc(length * (float64 ? 8 : 4));
  return new WasmTensor(memory, heap, { offset, length, float64, refs: 0 }, shape, dtype);
}

/** A host tensor over a WasmTensor's memory, for host code that reads it within one call. */
export function hostView(t: WasmTensor): HostTensor {
  return { shape: t.shape, data: t.view(), dtype: t.dtype };
}
