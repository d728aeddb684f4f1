import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTempDir } from '../test-support/raw.js';
import { writeSafetensorsFile } from './file-writer.js';
import { openCheckpoint } from './open-checkpoint.js';
import { ShardedSafetensors } from './sharded.js';

const t = (values: number[]) => ({ dtype: 'F32' as const, shape: [values.length], data: new Float32Array(values) });

async function twoShards(dir: string): Promise<string> {
  await writeSafetensorsFile(join(dir, 'model-00001-of-00002.safetensors'), { 'a.weight': t([1, 2]), 'a.bias': t([3]) }, { metadata: { format: 'pt' } });
  await writeSafetensorsFile(join(dir, 'model-00002-of-00002.safetensors'), { 'b.weight': t([4, 5, 6]) }, { metadata: { format: 'pt' } });
  return writeIndex(dir, {
    metadata: { total_size: 24 },
    weight_map: {
      'a.weight': 'model-00001-of-00002.safetensors',
      'a.bias': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00002-of-00002.safetensors',
    },
  });
}

async function writeIndex(dir: string, index: unknown): Promise<string> {
  const path = join(dir, 'model.safetensors.index.json');
  await writeFile(path, typeof index === 'string' ? index : JSON.stringify(index));
  return path;
}

describe('sharded checkpoints', () => {
  it('reads tensors from every shard through the index', async () => {
    await withTempDir(async (dir) => {
      const reader = await openCheckpoint(await twoShards(dir));
      try {
        expect(reader).toBeInstanceOf(ShardedSafetensors);
        expect(reader.tensors.map((x) => x.name).sort()).toEqual(['a.bias', 'a.weight', 'b.weight']);
        expect(await reader.float32('b.weight')).toEqual(new Float32Array([4, 5, 6]));
        expect(await reader.float32('a.bias')).toEqual(new Float32Array([3]));
        expect(reader.fileOf('b.weight')).toBe(join(dir, 'model-00002-of-00002.safetensors'));
        expect(reader.metadata?.['format']).toBe('pt');
        expect((reader as ShardedSafetensors).indexMetadata.get('total_size')).toBe(24);
        expect((reader as ShardedSafetensors).files).toHaveLength(2);
        expect(() => reader.info('c')).toThrow(expect.objectContaining({ code: 'tensor-not-found' }));
      } finally {
        await reader.close();
      }
    });
  });

  it.each([
    ['a shard outside the directory', { weight_map: { x: '../model.safetensors' } }, 'index-invalid'],
    ['an absolute shard path', { weight_map: { x: '/etc/passwd' } }, 'index-invalid'],
    ['a shard name that is a number', { weight_map: { x: 3 } }, 'index-invalid'],
    ['no weight_map', { metadata: {} }, 'index-invalid'],
    ['weight_map is an array', { weight_map: [] }, 'index-invalid'],
    ['metadata is a string', { metadata: 'x', weight_map: {} }, 'index-invalid'],
    ['not JSON', '{"weight_map": {', 'index-invalid'],
    ['an array', '[]', 'index-invalid'],
    ['a duplicate tensor', '{"weight_map":{"x":"a.safetensors","x":"b.safetensors"}}', 'duplicate-key'],
  ])('refuses an index with %s', async (_name, index, code) => {
    await withTempDir(async (dir) => {
      const path = await writeIndex(dir, index);
      await expect(openCheckpoint(path)).rejects.toMatchObject({ code, file: path });
    });
  });

  it('refuses an index that disagrees with its shards', async () => {
    await withTempDir(async (dir) => {
      await twoShards(dir);
      const listedElsewhere = await writeIndex(dir, {
        weight_map: {
          'a.weight': 'model-00002-of-00002.safetensors',
          'a.bias': 'model-00001-of-00002.safetensors',
          'b.weight': 'model-00002-of-00002.safetensors',
        },
      });
      await expect(openCheckpoint(listedElsewhere)).rejects.toMatchObject({ code: 'index-mismatch', key: 'a.weight' });
      const unlisted = await writeIndex(dir, {
        weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' },
      });
      await expect(openCheckpoint(unlisted)).rejects.toMatchObject({ code: 'index-mismatch', key: 'a.bias' });
    });
  });

  it('passes on a broken shard as that shard\'s own error', async () => {
    await withTempDir(async (dir) => {
      const index = await twoShards(dir);
      await writeFile(join(dir, 'model-00002-of-00002.safetensors'), new Uint8Array(5));
      await expect(openCheckpoint(index)).rejects.toMatchObject({ code: 'file-too-small', file: join(dir, 'model-00002-of-00002.safetensors') });
      const missing = await writeIndex(dir, { weight_map: { x: 'nope.safetensors' } });
      await expect(openCheckpoint(missing)).rejects.toMatchObject({ code: 'read-failed' });
    });
  });
});
