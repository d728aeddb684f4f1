/**
 * The shape of a framework profile: everything normbridge knows about what one framework means
 * by BatchNorm, as data, plus the one function that turns the framework's own arguments into
 * the canonical spec. Adapters, the checkpoint port, the conformance suite and the CLI read
 * these; none of them keeps its own copy.
 */
import type { BatchNormSpec, StateTensorKey } from '@normbridge/core';
import type { MomentumConvention } from './momentum.js';

/** The frameworks normbridge knows, as fixtures name them (`framework.name` in a manifest). */
export const FRAMEWORK_IDS = ['torch', 'flax-linen', 'flax-nnx', 'flax-legacy', 'mlx', 'keras', 'tfjs-layers', 'onnx'] as const;
export type FrameworkId = (typeof FRAMEWORK_IDS)[number];

/**
 * The names `normbridge convert --from/--to` and the checkpoint port use. Keras and TF.js
 * name weights alike (`<layer>/gamma`), so both read `keras` checkpoints.
 */
export const CHECKPOINT_NAMES = ['torch', 'flax', 'nnx', 'mlx', 'keras'] as const;
export type CheckpointName = (typeof CHECKPOINT_NAMES)[number];

/**
 * Axis order of a convolution kernel. `O` out channels, `I` in channels (per group), `*` the
 * spatial axes in order: PyTorch `OI*` (OIHW), Flax/Keras `*IO` (HWIO), MLX `O*I` (OHWI).
 */
export type ConvLayout = 'OI*' | '*IO' | 'O*I';
/** Axis order of a dense kernel: PyTorch/MLX `OI` ([out, in]), Flax/Keras `IO` ([in, out]). */
export type LinearLayout = 'OI' | 'IO';

/** One variable of a BatchNorm layer: the framework's name and the canonical state key it holds. */
export interface StateVariable {
  readonly name: string;
  readonly key: StateTensorKey;
}

/** The BatchNorm constructor defaults, in the framework's own convention. */
export interface ProfileDefaults {
  /** `eps` / `epsilon`. */
  readonly epsilon: number;
  /** In the profile's {@link MomentumConvention}. */
  readonly momentum: number;
  /** The feature axis (negative: from the end). */
  readonly featureAxis: number;
}

/** How the framework's checkpoints name things, for the checkpoint port. */
export interface CheckpointFacts {
  readonly name: CheckpointName;
  /** `format` in safetensors `__metadata__`, as Hugging Face tools write it. */
  readonly formatTag: string;
  /** Separators of flattened names; the first is the one written by default. */
  readonly separators: readonly string[];
  /** Conv/dense kernel leaf names (`weight` in PyTorch and MLX, `kernel` in Flax and Keras). */
  readonly kernel: string;
  readonly kernelBias: string;
  readonly convLayout: ConvLayout;
  readonly linearLayout: LinearLayout;
}

export interface FrameworkProfile<Args = Readonly<Record<string, unknown>>, Call = Readonly<Record<string, unknown>>, Version extends string = string> {
  readonly id: FrameworkId;
  /** How people write the framework's name. */
  readonly title: string;
  /** Versions whose behaviour differs, oldest first; {@link latest} is the default. */
  readonly versions: readonly Version[];
  readonly latest: Version;
  /**
   * The profile version for a version string as the framework reports it (`torch.__version__`
   * `2.13.0+cpu` → `'2.13'`), or undefined when no profile reproduces it.
   */
  versionOf(reported: string): Version | undefined;
  readonly momentum: {
    readonly convention: MomentumConvention;
    /** Whether `momentum=None` (a cumulative average) exists: PyTorch only. */
    readonly cumulative: boolean;
  };
  readonly defaults: ProfileDefaults;
  /** Spelling of constructor argument names: Python's snake_case, or camelCase (TF.js). */
  readonly argumentCase: 'snake_case' | 'camelCase';
  /** Constructor argument names of eps and momentum (`eps` in PyTorch/MLX, `epsilon` elsewhere). */
  readonly argumentNames: { readonly epsilon: string; readonly momentum: string };
  /** Learned parameters (those with gradients), in the framework's order. */
  readonly params: readonly StateVariable[];
  /** Running statistics, in the framework's order. */
  readonly stats: readonly StateVariable[];
  /** The batch counter's name where the framework keeps one (PyTorch `num_batches_tracked`). */
  readonly counter?: string | undefined;
  /** Variable collections (Flax linen `params` / `batch_stats`, legacy `params` / `state`). */
  readonly collections?: { readonly params: string; readonly stats: string } | undefined;
  /** Scale and bias exist together or not at all (PyTorch and MLX `affine`). */
  readonly affinePaired: boolean;
  /** Checkpoint naming, where `normbridge convert` reads and writes this framework. */
  readonly checkpoint?: CheckpointFacts | undefined;
  /**
   * What a training call on an empty batch does to the running statistics, where a fixture or
   * the framework's source shows it: `unchanged` (ATen returns the empty output first),
   * `nan` (the statistics average over nothing). Undefined where nobody has looked.
   */
  readonly emptyTrainingBatch?: 'unchanged' | 'nan' | undefined;
  /** Whether a call may pass a mask over the reduction (Flax `mask`, Keras 3 `mask`). */
  readonly takesMask: boolean;
  /**
   * The canonical spec of one call: `args` are the constructor arguments in the framework's own
   * names (a fixture's `layer.args`), `call` what the call adds (training flag, mask, …).
   */
  specFromArgs(args: Args, call: Call, version?: Version): BatchNormSpec;
}

/** A variable's full name as fixtures and Flax trees write it: `batch_stats/mean`, `weight`. */
export function qualifiedName(profile: Pick<FrameworkProfile<never, never>, 'collections'>, v: StateVariable, kind: 'params' | 'stats'): string {
  const c = profile.collections?.[kind];
  return c === undefined ? v.name : `${c}/${v.name}`;
}

/** Every variable name of one layer, parameters first, then statistics, then the counter. */
export function variableNames(profile: FrameworkProfile<never, never>): { readonly params: readonly string[]; readonly stats: readonly string[] } {
  return {
    params: profile.params.map((v) => qualifiedName(profile, v, 'params')),
    stats: [...profile.stats.map((v) => qualifiedName(profile, v, 'stats')), ...(profile.counter ? [profile.counter] : [])],
  };
}

/** The framework name of one canonical state key (`runningVar` → `running_var`, `batch_stats/var`). */
export function variableName(profile: FrameworkProfile<never, never>, key: StateTensorKey): string {
  const p = profile.params.find((v) => v.key === key);
  if (p) return qualifiedName(profile, p, 'params');
  return qualifiedName(profile, profile.stats.find((v) => v.key === key)!, 'stats');
}
