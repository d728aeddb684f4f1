import { isJsonObject, parseStrictJson } from '../format/strict-json.js';
import { NORMBRIDGE_METADATA_KEY } from '../port/config.js';
import { isFramework, type Framework } from '../port/frameworks/index.js';

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
  if (keys.some((k) => /^(params|batch_stats)[./]/.test(k))) return { framework: 'flax', reason: 'params/batch_stats collections (Flax linen)' };
  if (leaves.has('moving_mean') || leaves.has('moving_variance')) return { framework: 'keras', reason: 'moving_mean/moving_variance (Keras)' };
  if (leaves.has('running_mean') || leaves.has('running_var')) {
    if (leaves.has('num_batches_tracked')) return { framework: 'torch', reason: 'num_batches_tracked (PyTorch)' };
    if (metadata?.['format'] === 'pt') return { framework: 'torch', reason: 'format "pt" metadata' };
    return { framework: 'mlx', reason: 'running_mean without num_batches_tracked (MLX; PyTorch state dicts have the counter)' };
  }
  if (leaves.has('mean') && leaves.has('var')) return { framework: 'nnx', reason: 'mean/var without collections (Flax NNX)' };
  if (metadata?.['format'] === 'pt') return { framework: 'torch', reason: 'format "pt" metadata' };
  if (metadata?.['format'] === 'mlx') return { framework: 'mlx', reason: 'format "mlx" metadata' };
  return { framework: undefined, reason: 'no BatchNorm variables or framework metadata found' };
}
