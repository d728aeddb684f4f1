/**
 * Everything the writers accept as a tensor, brought to one form: dtype, shape, byte length and
 * a way to get the little-endian bytes (lazily, so that a conversion streams tensor by tensor).
 */
import type { HostTensor, Int64Tensor } from '@normbridge/core';
import { SafetensorsError } from '../errors.js';
import { dtypeInfo, isSafetensorsDtype, type SafetensorsDtype } from '../format/dtypes.js';
import { encodeValues, type TensorValues } from '../format/encode.js';
import { checkName, checkShape } from '../format/serialize.js';

/** Values with an explicit safetensors dtype (see `encodeValues` for the accepted pairs). */
export interface ValuesTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorValues;
}

/** Bytes already in safetensors form (little-endian). */
export interface BytesTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Bytes produced on demand, e.g. read from another file while writing. */
export interface LazyTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  read(): Promise<Uint8Array>;
}

/** The parts of a `@tensorflow/tfjs-core` Tensor the writer uses (no import of tfjs needed). */
export interface TfjsTensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  data(): Promise<ArrayLike<number> | Uint8Array>;
  dataSync(): ArrayLike<number> | Uint8Array;
}

export type TensorInput = ValuesTensor | BytesTensor | LazyTensor | HostTensor | Int64Tensor | TfjsTensorLike;

/** Tensors to write: a Map or record by name, or [name, tensor] pairs. */
export type TensorCollection =
  | ReadonlyMap<string, TensorInput>
  | Readonly<Record<string, TensorInput>>
  | Iterable<readonly [string, TensorInput]>;

export interface PreparedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Whether `bytes()` returns a promise. */
  readonly lazy: boolean;
  /** Sync for in-memory inputs; a promise for lazy inputs and tfjs tensors read asynchronously. */
  bytes(): Uint8Array | Promise<Uint8Array>;
}

const HOST_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
};
const TFJS_DTYPES: Readonly<Record<string, SafetensorsDtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

export function entriesOf(tensors: TensorCollection): [string, TensorInput][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, TensorInput>)];
  if (typeof (tensors as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return [...(tensors as Iterable<readonly [string, TensorInput]>)].map(([k, v]) => [k, v]);
  }
  const record = tensors as Readonly<Record<string, TensorInput>>;
  return Object.keys(record).map((k) => [k, record[k]!]);
}

/**
 * Normalises one input. `asyncData` reads tfjs tensors with `data()` (the file writer) rather
 * than `dataSync()` (the in-memory serializer, which must stay synchronous).
 */
export function prepareTensor(name: string, input: TensorInput, asyncData: boolean): PreparedTensor {
  checkName(name, 'write');
  const bad: (message: string) => never = (message) => {
    throw new SafetensorsError('invalid-argument', message, { key: name });
  };
  if (input === null || typeof input !== 'object') return bad(`expected a tensor, got ${input === null ? 'null' : typeof input}`);

  if (isTfjs(input)) {
    const dtype = TFJS_DTYPES[input.dtype] ?? bad(`tfjs dtype ${input.dtype} has no safetensors equivalent`);
    const shape = [...input.shape];
    const n = checkShape(shape, dtype, name);
    const encode = (data: ArrayLike<number> | Uint8Array) => {
      const values =
        dtype === 'F32'
          ? data instanceof Float32Array ? data : Float32Array.from(data)
          : dtype === 'I32'
            ? data instanceof Int32Array ? data : Int32Array.from(data)
            : Uint8Array.from(data);
      return encodeChecked(name, dtype, shape, values);
    };
    return {
      name,
      dtype,
      shape,
      byteLength: n * dtypeInfo(dtype).size,
      lazy: asyncData,
      bytes: () => (asyncData ? input.data().then(encode) : encode(input.dataSync())),
    };
  }

  const { dtype: rawDtype, shape } = input as { dtype: unknown; shape: unknown };
  if (!Array.isArray(shape)) return bad('shape must be an array');
  let dtype: SafetensorsDtype;
  if (rawDtype === 'int64') dtype = 'I64';
  else if (typeof rawDtype === 'string' && rawDtype in HOST_DTYPES) dtype = HOST_DTYPES[rawDtype]!;
  else if (isSafetensorsDtype(rawDtype)) dtype = rawDtype;
  else return bad(`unknown dtype ${JSON.stringify(rawDtype)}`);
  const n = checkShape(shape as number[], dtype, name);
  const byteLength = n * dtypeInfo(dtype).size;
  const frozenShape = [...(shape as number[])];

  if ('read' in input && typeof input.read === 'function') {
    const lazy = input;
    return {
      name,
      dtype,
      shape: frozenShape,
      byteLength,
      lazy: true,
      bytes: async () => {
        const b = await lazy.read();
        if (!(b instanceof Uint8Array) || b.length !== byteLength) {
          bad(`lazy source produced ${b instanceof Uint8Array ? b.length : 'no'} bytes, expected ${byteLength}`);
        }
        return b;
      },
    };
  }
  if ('bytes' in input && input.bytes instanceof Uint8Array) {
    const b = input.bytes;
    if (b.length !== byteLength) bad(`${b.length} bytes given for ${dtype}[${frozenShape.join(', ')}], which needs ${byteLength}`);
    return { name, dtype, shape: frozenShape, byteLength, lazy: false, bytes: () => b };
  }
  if ('data' in input && input.data !== undefined) {
    const data = input.data as TensorValues;
    // Encode eagerly: errors surface before the file is touched, and the caller may reuse its array.
    const encoded = encodeChecked(name, dtype, frozenShape, data);
    return { name, dtype, shape: frozenShape, byteLength, lazy: false, bytes: () => encoded };
  }
  return bad('expected data, bytes or read()');
}

function encodeChecked(name: string, dtype: SafetensorsDtype, shape: readonly number[], data: TensorValues): Uint8Array {
  const n = shape.reduce((a, d) => a * d, 1);
  if (data.length !== n) {
    throw new SafetensorsError('invalid-argument', `${data.length} values given for shape [${shape.join(', ')}] (${n} elements)`, {
      key: name,
    });
  }
  return encodeValues(data, dtype, JSON.stringify(name));
}

function isTfjs(v: object): v is TfjsTensorLike {
  const t = v as Partial<TfjsTensorLike>;
  return typeof t.dataSync === 'function' && typeof t.data === 'function' && typeof t.dtype === 'string';
}
