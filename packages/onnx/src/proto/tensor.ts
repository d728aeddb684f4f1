/** HostTensor ↔ ONNX TensorProto. Raw data is little-endian, as the ONNX format requires. */
import { widenHalfFloats, type Dtype, type HostTensor } from '@normbridge/core';
import { TensorProtoSchema, TensorProto_DataLocation, TensorProto_DataType, type TensorProto } from 'onnx-buf';
import { OnnxModelError } from '../errors.js';
import { create } from './runtime.js';

/** ONNX element type of a float dtype this package writes. */
export function elemTypeOf(dtype: 'float32' | 'float64'): TensorProto_DataType {
  return dtype === 'float64' ? TensorProto_DataType.DOUBLE : TensorProto_DataType.FLOAT;
}

/** A float initializer; data is rounded to `dtype` (float32 unless float64 is asked for). */
export function floatTensorProto(name: string, t: HostTensor, dtype: 'float32' | 'float64'): TensorProto {
  const data = dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data);
  return create(TensorProtoSchema, {
    name,
    dims: t.shape.map((d) => BigInt(d)),
    dataType: elemTypeOf(dtype),
    rawData: new Uint8Array(data.buffer.slice(0)),
  });
}

export function int64TensorProto(name: string, values: readonly number[], shape: readonly number[] = [values.length]): TensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return create(TensorProtoSchema, {
    name,
    dims: shape.map((d) => BigInt(d)),
    dataType: TensorProto_DataType.INT64,
    rawData: new Uint8Array(data.buffer.slice(0)),
  });
}

/** Decodes a float initializer to a host tensor (float64 stays float64, the rest become float32). */
export function hostTensorFromProto(t: TensorProto, where: string): HostTensor {
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL || t.externalData.length > 0) {
    throw new OnnxModelError(where, `initializer "${t.name}" keeps its data in an external file, which is not supported`);
  }
  const shape = t.dims.map((d) => Number(d));
  const n = shape.reduce((a, b) => a * b, 1);
  const raw = t.rawData.length > 0 ? new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength) : undefined;
  let data: Float32Array | Float64Array;
  let dtype: Dtype;
  switch (t.dataType) {
    case TensorProto_DataType.FLOAT:
      dtype = 'float32';
      data = raw ? Float32Array.from({ length: n }, (_, i) => raw.getFloat32(i * 4, true)) : Float32Array.from(t.floatData);
      break;
    case TensorProto_DataType.DOUBLE:
      dtype = 'float64';
      data = raw ? Float64Array.from({ length: n }, (_, i) => raw.getFloat64(i * 8, true)) : Float64Array.from(t.doubleData);
      break;
    case TensorProto_DataType.FLOAT16:
    case TensorProto_DataType.BFLOAT16: {
      // Both are stored as 16-bit patterns: in raw_data, or one per int32_data entry.
      const bits = raw
        ? Array.from({ length: n }, (_, i) => raw.getUint16(i * 2, true))
        : t.int32Data.map((v) => v & 0xffff);
      dtype = t.dataType === TensorProto_DataType.FLOAT16 ? 'float16' : 'bfloat16';
      data = widenHalfFloats(bits, dtype);
      break;
    }
    default:
      throw new OnnxModelError(where, `initializer "${t.name}" has ONNX data type ${t.dataType}; only float tensors are read`);
  }
  if (data.length !== n) {
    throw new OnnxModelError(where, `initializer "${t.name}" holds ${data.length} values for dims [${shape.join(', ')}]`);
  }
  return { shape, data, dtype };
}

/** Writes a host tensor back with the element type of an existing initializer. */
export function replaceTensorData(like: TensorProto, name: string, t: HostTensor): TensorProto {
  const dtype = like.dataType === TensorProto_DataType.DOUBLE ? 'float64' : 'float32';
  if (like.dataType !== TensorProto_DataType.DOUBLE && like.dataType !== TensorProto_DataType.FLOAT) {
    throw new OnnxModelError(name, `only float and double initializers can be rewritten, not ONNX data type ${like.dataType}`);
  }
  return floatTensorProto(name, t, dtype);
}
