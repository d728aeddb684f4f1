import { hostTensor } from '@normbridge/core';
import { TensorProtoSchema, TensorProto_DataLocation, TensorProto_DataType } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { OnnxModelError } from '../errors.js';
import { create } from './runtime.js';
import { floatTensorProto, hostTensorFromProto } from './tensor.js';

describe('TensorProto ↔ HostTensor', () => {
  it('round-trips float32 and float64 through raw_data', () => {
    const t = hostTensor([2, 2], [1.5, -2, 1e-7, 3], 'float64');
    expect(hostTensorFromProto(floatTensorProto('a', t, 'float64'), 'n')).toEqual(t);
    const back = hostTensorFromProto(floatTensorProto('a', t, 'float32'), 'n');
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.data)).toEqual(Array.from(Float32Array.from(t.data)));
  });

  it('reads float_data, and float16/bfloat16 bit patterns from int32_data', () => {
    const dims = [2n];
    expect(Array.from(hostTensorFromProto(create(TensorProtoSchema, { dims, dataType: TensorProto_DataType.FLOAT, floatData: [0.5, 2] }), 'n').data)).toEqual([0.5, 2]);
    const half = hostTensorFromProto(create(TensorProtoSchema, { dims, dataType: TensorProto_DataType.FLOAT16, int32Data: [0x3c00, 0xc000] }), 'n');
    expect([half.dtype, ...half.data]).toEqual(['float16', 1, -2]);
    const bf = hostTensorFromProto(create(TensorProtoSchema, { dims, dataType: TensorProto_DataType.BFLOAT16, int32Data: [0x3f80, 0x4040] }), 'n');
    expect([bf.dtype, ...bf.data]).toEqual(['bfloat16', 1, 3]);
  });

  it('names the initializer it cannot read', () => {
    const external = create(TensorProtoSchema, { name: 'w', dims: [1n], dataType: TensorProto_DataType.FLOAT, dataLocation: TensorProto_DataLocation.EXTERNAL });
    expect(() => hostTensorFromProto(external, 'conv')).toThrow(OnnxModelError);
    const ints = create(TensorProtoSchema, { name: 'i', dims: [1n], dataType: TensorProto_DataType.INT32, int32Data: [1] });
    expect(() => hostTensorFromProto(ints, 'conv')).toThrow(/"i" has ONNX data type 6/);
  });
});
