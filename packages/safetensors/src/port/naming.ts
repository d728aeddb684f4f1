/**
 * How one framework names and lays out the tensors normbridge converts. The facts (leaf names,
 * collections, layouts, defaults, momentum convention) come from the framework's profile in
 * `@normbridge/frameworks`; each file in ./frameworks/ adds only the key grammar (how a
 * flattened name splits into module path and leaf). One generic parser and one generic emitter
 * read these, so every framework gets both directions and N frameworks need N descriptions.
 */
import type { CheckpointName, ConvLayout, FrameworkProfile, LinearLayout, MomentumConvention } from '@normbridge/frameworks';

export type { ConvLayout, LinearLayout, MomentumConvention } from '@normbridge/frameworks';

/** What a tensor is, independent of any framework's name for it. */
export type Role = 'scale' | 'bias' | 'mean' | 'variance' | 'count' | 'kernel' | 'kernelBias';
export const BATCH_NORM_ROLES = ['scale', 'bias', 'mean', 'variance', 'count'] as const;

/** A key split into module path, leaf name and (Flax linen only) variable collection. */
export interface KeyParts {
  readonly path: readonly string[];
  readonly leaf: string;
  readonly collection?: string | undefined;
}

/** How a framework's flattened names split and join. */
export interface KeyGrammar {
  /** Splits a key, or returns undefined when it cannot be one of this framework's names. */
  split(key: string, separator: string): KeyParts | undefined;
  join(parts: KeyParts, separator: string): string;
  /** Picks the separator used by a set of keys. */
  detectSeparator(keys: readonly string[]): string;
}

export interface FrameworkNaming extends KeyGrammar {
  readonly framework: CheckpointName;
  /** Where every fact below comes from. */
  readonly profile: FrameworkProfile<never, never>;
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
}

/** A framework's naming: its profile's facts plus its key grammar. */
export function namingOf(profile: FrameworkProfile<never, never>, grammar: KeyGrammar): FrameworkNaming {
  const checkpoint = profile.checkpoint;
  if (checkpoint === undefined) throw new Error(`${profile.id} has no checkpoint naming`);
  const leaf = (key: string) => [...profile.params, ...profile.stats].find((v) => v.key === key)!.name;
  const collections = profile.collections;
  return {
    ...grammar,
    framework: checkpoint.name,
    profile,
    formatTag: checkpoint.formatTag,
    momentumConvention: profile.momentum.convention,
    defaults: { epsilon: profile.defaults.epsilon, momentum: profile.defaults.momentum },
    leaves: {
      scale: leaf('scale'),
      bias: leaf('bias'),
      mean: leaf('runningMean'),
      variance: leaf('runningVar'),
      kernel: checkpoint.kernel,
      kernelBias: checkpoint.kernelBias,
      ...(profile.counter === undefined ? {} : { count: profile.counter }),
    },
    ...(collections === undefined ? {} : { collectionOf: (role: Role) => (role === 'mean' || role === 'variance' ? collections.stats : collections.params) }),
    convLayout: checkpoint.convLayout,
    linearLayout: checkpoint.linearLayout,
    affinePaired: profile.affinePaired,
    separators: checkpoint.separators,
  };
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
