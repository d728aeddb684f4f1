import type { NativeArray } from '../format/dtypes.js';
import type { TensorInfo } from '../format/header.js';

/**
 * What every safetensors source offers (one file, a sharded checkpoint, a buffer in memory):
 * the header up front, tensor data on request. Reads return fresh arrays the caller owns.
 */
export interface TensorReader {
  /** The file (or index) path, or `<memory>`. */
  readonly source: string;
  /** `__metadata__` (of the first shard, for sharded checkpoints). */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Every tensor; in data order for one file, by shard then data order for sharded ones. */
  readonly tensors: readonly TensorInfo[];
  has(name: string): boolean;
  /** Throws `tensor-not-found` for an unknown name. */
  info(name: string): TensorInfo;
  /** The file that holds a tensor (the source itself unless sharded). */
  fileOf(name: string): string;
  /** The tensor's raw little-endian bytes. */
  bytes(name: string): Promise<Uint8Array>;
  /**
   * Part of the tensor's raw bytes: `target.length` bytes from `offset` within the tensor, so
   * that a large tensor can be streamed through a small buffer. Returns `target`.
   */
  bytesInto(name: string, offset: number, target: Uint8Array): Promise<Uint8Array>;
  /** The tensor as float32 (see `decodeToFloat32` for how each dtype converts). */
  float32(name: string): Promise<Float32Array>;
  /**
   * The tensor as float32 written into `out` (exactly one slot per element), so that a caller
   * streaming many tensors can reuse one array. Returns `out`.
   */
  float32Into(name: string, out: Float32Array): Promise<Float32Array>;
  /** The tensor in its own element type (raw bits for F16, BF16, F8). */
  native(name: string): Promise<NativeArray>;
  close(): Promise<void>;
}
