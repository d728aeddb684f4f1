/**
 * Lazy reading from a file handle: opening reads only the prefix and the header, and each
 * tensor is read at its offset when asked for, so files larger than memory can be inspected
 * and loaded tensor by tensor.
 */
import type { FileHandle } from 'node:fs/promises';
import { SafetensorsError } from '../errors.js';
import { decodeNative, decodeToFloat32, widenInPlace } from '../format/decode.js';
import { HOST_IS_LITTLE_ENDIAN, type NativeArray } from '../format/dtypes.js';
import { parseHeader, PREFIX_BYTES, readHeaderLength, type SafetensorsHeader, type TensorInfo } from '../format/header.js';
import { openRegularFile } from './open-regular.js';
import { readExactly } from './read-exactly.js';
import { checkRange, HeaderReader } from './header-reader.js';
import type { TensorReader } from './reader.js';

export class SafetensorsFile extends HeaderReader implements TensorReader {
  #fh: FileHandle | undefined;

  private constructor(
    readonly source: string,
    fh: FileHandle,
    readonly header: SafetensorsHeader,
  ) {
    super();
    this.#fh = fh;
  }

  /** Opens and validates a file; only the header is read. Close it when done. */
  static async open(path: string): Promise<SafetensorsFile> {
    const { fh, size } = await openRegularFile(path);
    try {
      const prefix = new Uint8Array(PREFIX_BYTES);
      if (size >= PREFIX_BYTES) await readExactly(fh, prefix, 0, path);
      const n = readHeaderLength(prefix, size, path);
      const headerBytes = new Uint8Array(n);
      await readExactly(fh, headerBytes, PREFIX_BYTES, path);
      const header = parseHeader(headerBytes, size - PREFIX_BYTES - n, path);
      return new SafetensorsFile(path, fh, header);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }


  async bytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const out = allocate(t.byteLength, this.source, name);
    await this.#readInto(t, out);
    return out;
  }

  async bytesInto(name: string, offset: number, target: Uint8Array): Promise<Uint8Array> {
    const t = this.info(name);
    checkRange(t, offset, target.length, this.source);
    const fh = this.#fh;
    if (fh === undefined) throw new SafetensorsError('closed', 'the file was closed', { file: this.source, key: t.name });
    await readExactly(fh, target, this.header.dataStart + t.begin + offset, this.source);
    return target;
  }

  async float32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const buffer = allocate(t.numel * 4, this.source, name);
    return this.float32Into(name, new Float32Array(buffer.buffer, buffer.byteOffset, t.numel));
  }

  async float32Into(name: string, out: Float32Array): Promise<Float32Array> {
    const t = this.info(name);
    if (out.length !== t.numel) {
      throw new SafetensorsError('invalid-argument', `output holds ${out.length} floats, the tensor has ${t.numel}`, { file: this.source, key: name });
    }
    const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    if (HOST_IS_LITTLE_ENDIAN && t.dtype === 'F32') {
      await this.#readInto(t, outBytes);
      return out;
    }
    if (HOST_IS_LITTLE_ENDIAN && (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2')) {
      // Read into the tail of the output and widen in place: no second buffer.
      await this.#readInto(t, outBytes.subarray(outBytes.length - t.byteLength));
      widenInPlace(out, t.dtype);
      return out;
    }
    return decodeToFloat32(await this.bytes(name), t.dtype, out);
  }

  async native(name: string): Promise<NativeArray> {
    const t = this.info(name);
    return decodeNative(await this.bytes(name), t.dtype);
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  async #readInto(t: TensorInfo, target: Uint8Array): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined) throw new SafetensorsError('closed', 'the file was closed', { file: this.source, key: t.name });
    await readExactly(fh, target, this.header.dataStart + t.begin, this.source);
  }
}

/**
 * A fresh buffer for one tensor. Its bytes are not zeroed first (`allocUnsafeSlow`): every byte
 * is overwritten by the read, or the buffer is dropped when the read fails, and skipping the
 * zero-fill of memory about to be overwritten is a large part of read throughput. A tensor too
 * large for this runtime is a typed error.
 */
function allocate(byteLength: number, file: string, key: string): Uint8Array {
  try {
    const b = Buffer.allocUnsafeSlow(byteLength);
    return new Uint8Array(b.buffer, b.byteOffset, byteLength);
  } catch (cause) {
    if (!(cause instanceof RangeError)) throw cause;
    throw new SafetensorsError('tensor-too-large', `${byteLength} bytes do not fit in one buffer in this runtime`, { file, key, cause });
  }
}

/** Opens a single safetensors file lazily. */
export function openSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}
