/**
 * The in-memory API: parse a whole file held in a Uint8Array (browsers, fetch responses,
 * small files). Same validation as the file reader.
 */
import { SafetensorsError } from '../errors.js';
import { decodeNative, decodeToFloat32 } from '../format/decode.js';
import type { NativeArray } from '../format/dtypes.js';
import { parseHeader, PREFIX_BYTES, readHeaderLength, type SafetensorsHeader } from '../format/header.js';
import { checkRange, HeaderReader } from './header-reader.js';
import type { TensorReader } from './reader.js';

export interface ParseOptions {
  /**
   * Name used for the buffer in error messages.
   * @default '<memory>'
   */
  readonly name?: string;
}

/** A parsed safetensors buffer. Tensor data stays in the caller's buffer until read. */
export class SafetensorsBuffer extends HeaderReader implements TensorReader {
  readonly source: string;
  readonly header: SafetensorsHeader;
  readonly #data: Uint8Array;

  constructor(bytes: Uint8Array, options: ParseOptions = {}) {
    super();
    this.source = options.name ?? '<memory>';
    if (!(bytes instanceof Uint8Array)) {
      throw new SafetensorsError('invalid-argument', 'expected the file contents as a Uint8Array', { file: this.source });
    }
    const n = readHeaderLength(bytes.subarray(0, PREFIX_BYTES), bytes.length, this.source);
    this.header = parseHeader(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + n), bytes.length - PREFIX_BYTES - n, this.source);
    this.#data = bytes.subarray(PREFIX_BYTES + n);
  }


  /** The tensor's bytes as a view into the parsed buffer: no copy; do not write to it. */
  view(name: string): Uint8Array {
    const t = this.info(name);
    return this.#data.subarray(t.begin, t.end);
  }
  /** The tensor as float32, always a fresh array. */
  float32Sync(name: string): Float32Array {
    return decodeToFloat32(this.view(name), this.info(name).dtype);
  }
  /** The tensor in its own element type, always a fresh array. */
  nativeSync(name: string): NativeArray {
    return decodeNative(this.view(name), this.info(name).dtype);
  }

  async bytes(name: string): Promise<Uint8Array> {
    return this.view(name).slice();
  }
  async bytesInto(name: string, offset: number, target: Uint8Array): Promise<Uint8Array> {
    const t = this.info(name);
    checkRange(t, offset, target.length, this.source);
    target.set(this.#data.subarray(t.begin + offset, t.begin + offset + target.length));
    return target;
  }
  async float32(name: string): Promise<Float32Array> {
    return this.float32Sync(name);
  }
  async float32Into(name: string, out: Float32Array): Promise<Float32Array> {
    const t = this.info(name);
    if (out.length !== t.numel) {
      throw new SafetensorsError('invalid-argument', `output holds ${out.length} floats, the tensor has ${t.numel}`, { file: this.source, key: name });
    }
    return decodeToFloat32(this.view(name), t.dtype, out);
  }
  async native(name: string): Promise<NativeArray> {
    return this.nativeSync(name);
  }
  async close(): Promise<void> {}
}

/** Parses and validates a complete safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, options?: ParseOptions): SafetensorsBuffer {
  return new SafetensorsBuffer(bytes, options);
}
