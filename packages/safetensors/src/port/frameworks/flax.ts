import { flaxLinen } from '@normbridge/frameworks';
import { namingOf, type KeyParts } from '../naming.js';

const { params: PARAMS, stats: BATCH_STATS } = flaxLinen.collections!;

/**
 * Flax linen variable trees flattened with `traverse_util.flatten_dict(sep='/')`:
 * `params/<path>/scale|bias|kernel` and `batch_stats/<path>/mean|var`. The dotted form
 * (`params.<path>.scale`), common in other tools, is read too and can be written.
 */
export const flaxNaming = namingOf(flaxLinen, {
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
});
