import type { FrameworkNaming, KeyParts, Role } from '../naming.js';

const PARAMS = 'params';
const BATCH_STATS = 'batch_stats';

/**
 * Flax linen variable trees flattened with `traverse_util.flatten_dict(sep='/')`:
 * `params/<path>/scale|bias|kernel` and `batch_stats/<path>/mean|var`. The dotted form
 * (`params.<path>.scale`), common in other tools, is read too and can be written. Conv kernels
 * HWIO, Dense kernels [in, out].
 */
export const flaxNaming: FrameworkNaming = {
  framework: 'flax',
  formatTag: 'flax',
  momentumConvention: 'decay',
  defaults: { epsilon: 1e-5, momentum: 0.99 },
  leaves: { scale: 'scale', bias: 'bias', mean: 'mean', variance: 'var', kernel: 'kernel', kernelBias: 'bias' },
  collectionOf: (role: Role) => (role === 'mean' || role === 'variance' ? BATCH_STATS : PARAMS),
  convLayout: '*IO',
  linearLayout: 'IO',
  affinePaired: false,
  separators: ['/', '.'],
  split(key: string, separator: string): KeyParts | undefined {
    const segments = key.split(separator);
    if (segments.length < 2) return undefined;
    const collection = segments.shift()!;
    const leaf = segments.pop()!;
    return { path: segments, leaf, collection };
  },
  join(parts: KeyParts, separator: string): string {
    return [parts.collection ?? PARAMS, ...parts.path, parts.leaf].join(separator);
  },
  detectSeparator(keys: readonly string[]): string {
    const dotted = keys.some((k) => k.startsWith(`${PARAMS}.`) || k.startsWith(`${BATCH_STATS}.`));
    const slashed = keys.some((k) => k.startsWith(`${PARAMS}/`) || k.startsWith(`${BATCH_STATS}/`));
    return dotted && !slashed ? '.' : '/';
  },
};
