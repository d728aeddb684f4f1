import { isJsonObject, parseStrictJson } from '../format/strict-json.js';
import { NORMBRIDGE_METADATA_KEY } from '../port/config.js';
import { isFramework, NAMINGS, type Framework } from '../port/frameworks/index.js';

export interface FrameworkGuess {
  readonly framework: Framework | undefined;
  readonly reason: string;
}

/** Leaf name of a key, whatever the separator, without a tf.keras `:0` suffix. */
function leafOf(key: string): string {
  return key.split(/[./]/).pop()!.replace(/:\d+$/, '');
}

/**
 * Which framework's names a checkpoint uses: normbridge metadata first, then the BatchNorm
 * leaf names, which differ between every pair of frameworks except PyTorch and MLX (told apart
 * by PyTorch's batch counter and the `format` metadata).
 */
export function detectFramework(keys: readonly string[], metadata: Readonly<Record<string, string>> | undefined): FrameworkGuess {
  const raw = metadata?.[NORMBRIDGE_METADATA_KEY];
  if (raw !== undefined) {
    try {
      const root = parseStrictJson(raw);
      const f = isJsonObject(root) ? root.get('framework') : undefined;
      if (isFramework(f)) return { framework: f, reason: `"${NORMBRIDGE_METADATA_KEY}" metadata says ${f}` };
    } catch {
      // fall through to the key names
    }
  }
  const leaves = new Set(keys.map(leafOf));
  const { flax, keras, torch, mlx, nnx } = NAMINGS;
  const has = (...names: (string | undefined)[]) => names.some((n) => n !== undefined && leaves.has(n));
  const linen = [flax.collectionOf!('scale'), flax.collectionOf!('mean')];
  const [torchTag, mlxTag] = [torch.formatTag, mlx.formatTag];
  if (keys.some((k) => linen.some((c) => k.startsWith(`${c}.`) || k.startsWith(`${c}/`)))) return { framework: 'flax', reason: `${linen.join('/')} collections (Flax linen)` };
  if (has(keras.leaves.mean, keras.leaves.variance)) return { framework: 'keras', reason: `${keras.leaves.mean}/${keras.leaves.variance} (Keras)` };
  // PyTorch and MLX share these names; only PyTorch keeps a batch counter.
  if (has(torch.leaves.mean, torch.leaves.variance, mlx.leaves.mean, mlx.leaves.variance)) {
    if (has(torch.leaves.count)) return { framework: 'torch', reason: `${torch.leaves.count} (PyTorch)` };
    if (metadata?.['format'] === torchTag) return { framework: 'torch', reason: `format "${torchTag}" metadata` };
    return { framework: 'mlx', reason: `${mlx.leaves.mean} without ${torch.leaves.count} (MLX; PyTorch state dicts have the counter)` };
  }
  if (leaves.has(nnx.leaves.mean) && leaves.has(nnx.leaves.variance)) return { framework: 'nnx', reason: `${nnx.leaves.mean}/${nnx.leaves.variance} without collections (Flax NNX)` };
  if (metadata?.['format'] === torchTag) return { framework: 'torch', reason: `format "${torchTag}" metadata` };
  if (metadata?.['format'] === mlxTag) return { framework: 'mlx', reason: `format "${mlxTag}" metadata` };
  return { framework: undefined, reason: 'no BatchNorm variables or framework metadata found' };
}
