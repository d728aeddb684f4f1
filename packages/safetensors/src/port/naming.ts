/**
 * How one framework names and lays out the tensors normbridge converts. Each framework is a
 * declarative description (see ./frameworks/); one generic parser and one generic emitter read
 * these, so every framework gets both directions and N frameworks need N descriptions.
 */
import type { Framework } from './frameworks.js';

/** What a tensor is, independent of any framework's name for it. */
export type Role = 'scale' | 'bias' | 'mean' | 'variance' | 'count' | 'kernel' | 'kernelBias';
export const BATCH_NORM_ROLES = ['scale', 'bias', 'mean', 'variance', 'count'] as const;

/**
 * Axis order of a convolution kernel. `O` out channels, `I` in channels (per group), `*` the
 * spatial axes in order: PyTorch `OI*` (OIHW), Flax/Keras `*IO` (HWIO), MLX `O*I` (OHWI).
 */
export type ConvLayout = 'OI*' | '*IO' | 'O*I';
/** Axis order of a dense kernel: PyTorch/MLX `OI` ([out, in]), Flax/Keras `IO` ([in, out]). */
export type LinearLayout = 'OI' | 'IO';

/** A key split into module path, leaf name and (Flax linen only) variable collection. */
export interface KeyParts {
  readonly path: readonly string[];
  readonly leaf: string;
  readonly collection?: string | undefined;
}

export type MomentumConvention = 'batch-weight' | 'decay';

export interface FrameworkNaming {
  readonly framework: Framework;
  /** `format` in `__metadata__`, as Hugging Face tools write it. */
  readonly formatTag: string;
  readonly momentumConvention: MomentumConvention;
  /** The BatchNorm constructor defaults, in this framework's momentum convention. */
  readonly defaults: { readonly epsilon: number; readonly momentum: number };
  /** Leaf name of each role. `count` only where the framework keeps a counter. */
  readonly leaves: Readonly<Record<Exclude<Role, 'count'>, string>> & { readonly count?: string };
  /** Variable collection of each role (Flax linen: `params` / `batch_stats`). */
  readonly collectionOf?: (role: Role) => string;
  readonly convLayout: ConvLayout;
  readonly linearLayout: LinearLayout;
  /** BatchNorm weight and bias exist together or not at all (PyTorch and MLX `affine`). */
  readonly affinePaired: boolean;
  /** Separators this framework's flattened names use; the first is the default for writing. */
  readonly separators: readonly string[];
  /** Splits a key, or returns undefined when it cannot be one of this framework's names. */
  split(key: string, separator: string): KeyParts | undefined;
  join(parts: KeyParts, separator: string): string;
  /** Picks the separator used by a set of keys. */
  detectSeparator(keys: readonly string[]): string;
}

/** Split on the last separator: everything before is the module path. */
export function splitPlain(key: string, separator: string): KeyParts {
  const segments = key.split(separator);
  const leaf = segments.pop()!;
  return { path: segments, leaf };
}

export function joinPlain(parts: KeyParts, separator: string): string {
  return [...parts.path, parts.leaf].join(separator);
}

/** '/' if any key contains it, else '.': for frameworks whose flattening tools differ. */
export function slashOrDot(keys: readonly string[]): string {
  return keys.some((k) => k.includes('/')) ? '/' : '.';
}
