/**
 * Fuzzing sharded checkpoints (issue 16): a random index over real shard files (names that
 * escape, repeat, go missing or disagree with the shards; links; odd JSON) either opens, and
 * then every listed tensor reads back from the shard that holds it, or is refused with a
 * SafetensorsError. Never another error, a hang, or a read outside the folder.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../errors.js';
import { withTempDir } from '../test-support/raw.js';
import { writeSafetensorsFile } from './file-writer.js';
import { openCheckpoint } from './open-checkpoint.js';

const SHARDS = {
  's1.safetensors': { a: [1, 2], b: [3] },
  's2.safetensors': { c: [4, 5, 6] },
} as const;

const shardName = fc.oneof(
  fc.constantFrom('s1.safetensors', 's2.safetensors', 'missing.safetensors', 'link.safetensors', 'outside.safetensors', 'fifo', 'dir'),
  fc.constantFrom('', '.', '..', '../s1.safetensors', '/etc/passwd', 'sub/s1.safetensors', 's1.safetensors\u0000', 'S1.SAFETENSORS'),
);
const tensorName = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', '__metadata__', ''), fc.string({ maxLength: 4 }));
const jsonValue = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant([]), fc.constant({}));

/** An index: mostly plausible weight maps, sometimes malformed at any level. */
const index = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(tensorName, shardName, { maxKeys: 5 }).map((wm) => JSON.stringify({ metadata: { total_size: 24 }, weight_map: wm })) },
  { weight: 1, arbitrary: fc.dictionary(tensorName, fc.oneof(shardName, jsonValue), { maxKeys: 4 }).map((wm) => JSON.stringify({ weight_map: wm })) },
  { weight: 1, arbitrary: fc.oneof(jsonValue, fc.record({ weight_map: jsonValue, metadata: jsonValue })).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('{"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}}', `{"weight_map":${'['.repeat(100)}}`, '\ufeff{"weight_map":{}}') },
);

describe('fuzzing sharded indexes', () => {
  it('an index either opens consistently or is refused with a SafetensorsError', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'model');
      await mkdir(dir);
      for (const [name, tensors] of Object.entries(SHARDS)) {
        await writeSafetensorsFile(join(dir, name), Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { dtype: 'F32' as const, shape: [v.length], data: Float32Array.from(v) }])));
      }
      await symlink(join(dir, 's1.safetensors'), join(dir, 'link.safetensors'));
      await writeSafetensorsFile(join(root, 'outside.safetensors'), { a: { dtype: 'F32', shape: [1], data: Float32Array.of(9) } });
      await symlink(join(root, 'outside.safetensors'), join(dir, 'outside.safetensors'));
      await mkdir(join(dir, 'dir'));
      const { execFileSync } = await import('node:child_process');
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      const path = join(dir, 'model.safetensors.index.json');
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(index, async (text) => {
          await rm(path, { force: true });
          await writeFile(path, text);
          let reader;
          try {
            reader = await openCheckpoint(path);
          } catch (e) {
            if (!(e instanceof SafetensorsError)) throw e;
            outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
            return;
          }
          outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
          try {
            for (const t of reader.tensors) {
              const file = reader.fileOf(t.name);
              expect(file.startsWith(dir)).toBe(true);
              const expected = (SHARDS as Record<string, Record<string, readonly number[]>>)[file.slice(dir.length + 1).replace('link.safetensors', 's1.safetensors')]?.[t.name];
              expect(Array.from(await reader.float32(t.name))).toEqual(expected);
            }
          } finally {
            await reader.close();
          }
        }),
        { numRuns: 150, seed: 16 },
      );
      // The fuzzer reaches both sides: some indexes open, many kinds are refused.
      expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
      expect([...outcomes.keys()].filter((k) => k !== 'ok').length).toBeGreaterThanOrEqual(4);
    });
  }, 60_000);
});
