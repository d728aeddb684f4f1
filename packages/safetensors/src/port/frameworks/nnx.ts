import { flaxNnx } from '@normbridge/frameworks';
import { joinPlain, namingOf, slashOrDot, type KeyParts } from '../naming.js';

/**
 * Variable wrappers that some NNX state flattenings keep as a last path element
 * (`bn/mean/value`); they are dropped when reading.
 */
const WRAPPER_LEAVES = new Set(['value', 'raw_value']);

/**
 * Flax NNX state (`nnx.state(model)`, `nnx.to_pure_dict`) flattened by attribute path:
 * `bn/mean`, `bn/var`, `bn/scale`, `layers/1/kernel` (Sequential children under `layers`).
 * No collection prefix: Param and BatchStat variables share one tree.
 */
export const nnxNaming = namingOf(flaxNnx, {
  split(key: string, separator: string): KeyParts | undefined {
    const segments = key.split(separator);
    if (segments.length >= 2 && WRAPPER_LEAVES.has(segments[segments.length - 1]!)) segments.pop();
    const leaf = segments.pop()!;
    return { path: segments, leaf };
  },
  join: joinPlain,
  detectSeparator: slashOrDot,
});
