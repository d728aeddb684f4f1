/**
 * Sharded checkpoints: `model.safetensors.index.json` maps each tensor to the shard file that
 * holds it (`weight_map`). Every shard is opened and validated; the index and the shards must
 * agree exactly, so that no tensor is silently missing or read from the wrong shard.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, isAbsolute } from 'node:path';
import { SafetensorsError } from '../errors.js';
import type { NativeArray } from '../format/dtypes.js';
import type { TensorInfo } from '../format/header.js';
import { isJsonObject, JsonSyntaxError, parseStrictJson, type JsonValue } from '../format/strict-json.js';
import { MAX_INDEX_BYTES, MAX_SHARDS } from '../limits.js';
import { SafetensorsFile } from './file-reader.js';
import { openRegularFile } from './open-regular.js';
import { readExactly } from './read-exactly.js';
import type { TensorReader } from './reader.js';

export class ShardedSafetensors implements TensorReader {
  readonly #shards: ReadonlyMap<string, SafetensorsFile>;
  readonly #owner: ReadonlyMap<string, SafetensorsFile>;
  readonly tensors: readonly TensorInfo[];

  private constructor(
    readonly source: string,
    /** The index's own `metadata` object (e.g. `total_size`), values as parsed. */
    readonly indexMetadata: ReadonlyMap<string, JsonValue>,
    shards: Map<string, SafetensorsFile>,
    owner: Map<string, SafetensorsFile>,
  ) {
    this.#shards = shards;
    this.#owner = owner;
    this.tensors = [...shards.values()].flatMap((s) => s.tensors);
  }

  static async open(indexPath: string): Promise<ShardedSafetensors> {
    const weightMap = await readIndex(indexPath);
    const dir = dirname(indexPath);
    const shardNames = [...new Set(weightMap.map.values())].sort();
    if (shardNames.length > MAX_SHARDS) {
      throw new SafetensorsError('index-invalid', `${shardNames.length} shards exceed the limit of ${MAX_SHARDS}`, { file: indexPath });
    }
    const shards = new Map<string, SafetensorsFile>();
    try {
      const realDir = await shardRoot(dir);
      for (const name of shardNames) {
        const path = join(dir, name);
        await checkInsideDirectory(path, realDir, indexPath);
        shards.set(name, await SafetensorsFile.open(path));
      }
      const owner = new Map<string, SafetensorsFile>();
      for (const [tensor, shardName] of weightMap.map) {
        const shard = shards.get(shardName)!;
        if (!shard.has(tensor)) {
          throw new SafetensorsError('index-mismatch', `the index places this tensor in ${shardName}, which does not hold it`, {
            file: indexPath,
            key: tensor,
          });
        }
        owner.set(tensor, shard);
      }
      for (const [shardName, shard] of shards) {
        for (const t of shard.tensors) {
          if (owner.get(t.name) !== shard) {
            const listed = weightMap.map.get(t.name);
            throw new SafetensorsError(
              'index-mismatch',
              listed === undefined
                ? `${shardName} holds this tensor but the index does not list it`
                : `${shardName} holds this tensor but the index places it in ${listed}`,
              { file: indexPath, key: t.name },
            );
          }
        }
      }
      return new ShardedSafetensors(indexPath, weightMap.metadata, shards, owner);
    } catch (e) {
      await Promise.all([...shards.values()].map((s) => s.close()));
      throw e;
    }
  }

  /** `__metadata__` of the first shard (shards written by one tool carry the same). */
  get metadata(): Readonly<Record<string, string>> | undefined {
    return this.#shards.values().next().value?.metadata;
  }
  /** Shard file paths, sorted. */
  get files(): string[] {
    return [...this.#shards.values()].map((s) => s.source);
  }
  has(name: string): boolean {
    return this.#owner.has(name);
  }
  #shard(name: string): SafetensorsFile {
    const s = this.#owner.get(name);
    if (s === undefined) throw new SafetensorsError('tensor-not-found', 'no such tensor in any shard', { file: this.source, key: name });
    return s;
  }
  info(name: string): TensorInfo {
    return this.#shard(name).info(name);
  }
  fileOf(name: string): string {
    return this.#shard(name).source;
  }
  bytes(name: string): Promise<Uint8Array> {
    return this.#shard(name).bytes(name);
  }
  bytesInto(name: string, offset: number, target: Uint8Array): Promise<Uint8Array> {
    return this.#shard(name).bytesInto(name, offset, target);
  }
  float32(name: string): Promise<Float32Array> {
    return this.#shard(name).float32(name);
  }
  float32Into(name: string, out: Float32Array): Promise<Float32Array> {
    return this.#shard(name).float32Into(name, out);
  }
  native(name: string): Promise<NativeArray> {
    return this.#shard(name).native(name);
  }
  async close(): Promise<void> {
    await Promise.all([...this.#shards.values()].map((s) => s.close()));
  }
}

interface ParsedIndex {
  readonly map: Map<string, string>;
  readonly metadata: Map<string, JsonValue>;
}

async function readIndex(indexPath: string): Promise<ParsedIndex> {
  const fail: (message: string, cause?: unknown) => never = (message, cause) => {
    throw new SafetensorsError('index-invalid', message, { file: indexPath, cause });
  };
  const { fh, size } = await openRegularFile(indexPath);
  let raw: Uint8Array;
  try {
    if (size > MAX_INDEX_BYTES) fail(`index is ${size} bytes, more than the limit of ${MAX_INDEX_BYTES}`);
    raw = new Uint8Array(size);
    await readExactly(fh, raw, 0, indexPath);
  } finally {
    await fh.close();
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (cause) {
    return fail('index is not valid UTF-8', cause);
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    if (e.kind === 'duplicate-key') {
      throw new SafetensorsError('duplicate-key', `index lists ${JSON.stringify(e.key)} twice`, { file: indexPath, cause: e });
    }
    return fail(`index is not valid JSON: ${e.message} at character ${e.position}`, e);
  }
  if (!isJsonObject(root)) return fail('index must be a JSON object');
  const wm = root.get('weight_map');
  if (!isJsonObject(wm)) return fail('index has no "weight_map" object');
  const meta = root.get('metadata');
  if (meta !== undefined && meta !== null && !isJsonObject(meta)) fail('"metadata" must be an object');
  const map = new Map<string, string>();
  for (const [tensor, shard] of wm) {
    if (typeof shard !== 'string') fail(`weight_map entry for ${JSON.stringify(tensor)} must be a file name string`);
    checkShardName(shard as string, indexPath);
    map.set(tensor, shard as string);
  }
  return { map, metadata: isJsonObject(meta) ? meta : new Map() };
}

/**
 * The tree a shard's symbolic link may point into: the index's own folder, or, for an index in
 * a Hugging Face cache snapshot (`<repo>/snapshots/<revision>/`, whose files link to
 * `<repo>/blobs/`), that repository's folder.
 */
async function shardRoot(dir: string): Promise<string> {
  const real = await realpath(dir);
  return basename(dirname(real)) === 'snapshots' ? dirname(dirname(real)) : real;
}

/**
 * Shards may be symbolic links, but a link must resolve inside {@link shardRoot}: an index
 * cannot make normbridge read (and quote, in an error) a file elsewhere on the machine. Nothing
 * of an escaping target is read.
 */
async function checkInsideDirectory(path: string, realDir: string, indexPath: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return; // a missing shard is reported by the open that follows, with its own error
  }
  const rel = relative(realDir, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new SafetensorsError('outside-directory', `shard ${JSON.stringify(basename(path))} is a link to a file outside the index's directory; it is not read`, {
      file: indexPath,
    });
  }
}

/** Shards live beside the index: a name that reaches elsewhere (`../x`, `/etc/x`) is refused. */
function checkShardName(name: string, indexPath: string): void {
  if (name === '' || name === '.' || name === '..' || name !== basename(name) || /[\\/\0]/.test(name)) {
    throw new SafetensorsError('index-invalid', `shard name ${JSON.stringify(name)} is not a plain file name beside the index`, {
      file: indexPath,
    });
  }
}

export function openShardedSafetensors(indexPath: string): Promise<ShardedSafetensors> {
  return ShardedSafetensors.open(indexPath);
}
