import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, withTempDir } from '../test-support/raw.js';
import { openSafetensors } from './file-reader.js';
import { parseSafetensors } from './memory.js';
import { serializeSafetensors } from './serialize-memory.js';
import { writeSafetensorsFile } from './file-writer.js';
import { readTfjsTensor, readTfjsTensors } from './tfjs.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tfjs interop', () => {
  it('reads F16 kernels, F32 statistics and the I64 counter of a PyTorch checkpoint', async () => {
    const f = await openSafetensors(join(FIXTURES, 'resnet18.safetensors'));
    try {
      const names = ['conv1.weight', 'bn1.running_var', 'bn1.num_batches_tracked'];
      const tensors = await readTfjsTensors(f, names);
      const w = tensors.get('conv1.weight')!;
      expect(w.dtype).toBe('float32');
      expect(w.shape).toEqual([64, 3, 7, 7]);
      expect(w.dataSync()).toEqual(await f.float32('conv1.weight'));
      expect(tensors.get('bn1.running_var')!.shape).toEqual([64]);
      const count = tensors.get('bn1.num_batches_tracked')!;
      expect(count.dtype).toBe('int32');
      expect(count.shape).toEqual([]);
      expect(count.dataSync()[0]).toBe(3);
      tf.dispose([...tensors.values()]);
    } finally {
      await f.close();
    }
  });

  it('writes tfjs tensors (float32, int32, bool) and reads them back', async () => {
    const a = tf.tensor([[1.5, -2], [3, 4]], [2, 2], 'float32');
    const b = tf.tensor([1, -7, 2 ** 31 - 1], [3], 'int32');
    const c = tf.tensor([true, false], [2], 'bool');
    await withTempDir(async (dir) => {
      const path = join(dir, 'tf.safetensors');
      await writeSafetensorsFile(path, { a, b, c }, { metadata: { format: 'tf' } });
      const f = await openSafetensors(path);
      expect(f.tensors.map((t) => [t.name, t.dtype])).toEqual([['a', 'F32'], ['b', 'I32'], ['c', 'BOOL']]);
      for (const [name, t] of [['a', a], ['b', b], ['c', c]] as const) {
        const back = await readTfjsTensor(f, name);
        expect(back.dtype).toBe(t.dtype);
        expect(back.shape).toEqual(t.shape);
        expect(back.dataSync()).toEqual(t.dataSync());
        back.dispose();
      }
      await f.close();
    });
    // The synchronous serializer reads with dataSync().
    const st = parseSafetensors(serializeSafetensors({ a }));
    expect([...st.float32Sync('a')]).toEqual([1.5, -2, 3, 4]);
    tf.dispose([a, b, c]);
  });

  it('refuses 64-bit integers that do not fit int32, and tfjs dtypes with no safetensors twin', async () => {
    const st = parseSafetensors(serializeSafetensors({ big: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n ** 40n]) } }));
    await expect(readTfjsTensor(st, 'big')).rejects.toMatchObject({ code: 'dtype-unsupported', key: 'big' });
    const s = tf.tensor(['x'], [1], 'string');
    expect(() => serializeSafetensors({ s: s as never })).toThrow(expect.objectContaining({ code: 'invalid-argument', key: 's' }));
    s.dispose();
  });
});
