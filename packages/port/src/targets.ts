/**
 * How each framework's adapter layer is made from one BatchNorm's config and state. Only API
 * shaping lives here: names, momenta and counters were already translated by
 * `@normbridge/safetensors`' `translateCheckpoint`, the same mapping `normbridge convert` uses.
 */
import type { Engine, HostTensor } from '@normbridge/core';
import { PROFILES } from '@normbridge/frameworks';
import { linen } from '@normbridge/flax';
import { BatchNormalization } from '@normbridge/keras';
import { BatchNorm as MlxBatchNorm, type MlxVersion } from '@normbridge/mlx';
import type { Framework } from '@normbridge/safetensors';
import { BatchNorm1d, BatchNorm2d, BatchNorm3d, type _BatchNorm } from '@normbridge/torch';

/** The adapters a checkpoint's BatchNorms can be built as. */
export const PORT_TARGETS = ['torch', 'flax-linen', 'mlx', 'keras'] as const;
export type PortTarget = (typeof PORT_TARGETS)[number];

/** The checkpoint naming each target reads (the `--to` of `normbridge convert`). */
export const TARGET_NAMING = Object.fromEntries(PORT_TARGETS.map((t) => [t, PROFILES[t].checkpoint!.name])) as Readonly<Record<PortTarget, Framework>>;

/**
 * Whether the target takes a scale and a bias separately (Flax `use_scale`/`use_bias`, Keras
 * `scale`/`center`) or both or neither (PyTorch and MLX `affine`).
 */
export const SEPARATE_SCALE_AND_BIAS: Readonly<Record<PortTarget, boolean>> = {
  torch: false,
  'flax-linen': true,
  mlx: false,
  keras: true,
};

/** A linen BatchNorm with the variables `apply` takes (`{params: {scale, bias}, batch_stats: {mean, var}}`, on the engine). */
export interface LinenBatchNorm<T> {
  readonly module: linen.BatchNorm<T>;
  readonly variables: linen.Variables<T>;
}

export interface TargetLayers<T> {
  torch: _BatchNorm<T>;
  'flax-linen': LinenBatchNorm<T>;
  mlx: MlxBatchNorm<T>;
  keras: BatchNormalization<T>;
}

/** Options that only shape one framework's layers. */
export interface TargetOptions {
  /**
   * PyTorch module class (checks the input rank as PyTorch does).
   * @default 'BatchNorm2d'
   */
  readonly torchModule?: 'BatchNorm1d' | 'BatchNorm2d' | 'BatchNorm3d' | undefined;
  /**
   * Rank of the inputs the Keras layers are built for (Keras fixes it at `build`); channels last.
   * @default 4
   */
  readonly kerasInputRank?: number | undefined;
  /**
   * MLX version profile.
   * @default the adapter's default ('0.32.1')
   */
  readonly mlxVersion?: MlxVersion | undefined;
}

/** One BatchNorm, translated: momentum in the target's own convention. */
export interface LayerSource<T> {
  readonly channels: number;
  readonly epsilon: number;
  readonly momentum: number | null;
  readonly scale?: HostTensor | undefined;
  readonly bias?: HostTensor | undefined;
  readonly mean: HostTensor;
  readonly variance: HostTensor;
  readonly numBatchesTracked: bigint;
  readonly engine: Engine<T>;
}

const TORCH = { BatchNorm1d, BatchNorm2d, BatchNorm3d } as const;

type Builders = { [K in PortTarget]: <T>(s: LayerSource<T>, o: TargetOptions) => TargetLayers<T>[K] };

export const BUILDERS: Builders = {
  torch(s, o) {
    const Module = TORCH[o.torchModule ?? 'BatchNorm2d'];
    const affine = s.scale !== undefined;
    const bn = new Module(s.channels, { eps: s.epsilon, momentum: s.momentum, affine, engine: s.engine });
    bn.loadStateDict(
      {
        ...(affine ? { weight: s.scale!, bias: s.bias! } : {}),
        running_mean: s.mean,
        running_var: s.variance,
        num_batches_tracked: { shape: [], data: BigInt64Array.of(s.numBatchesTracked), dtype: 'int64' },
      },
      { strict: true },
    );
    return bn;
  },
  'flax-linen'(s) {
    const module = new linen.BatchNorm({
      epsilon: s.epsilon,
      momentum: s.momentum!,
      useScale: s.scale !== undefined,
      useBias: s.bias !== undefined,
    });
    const up = (t: HostTensor) => s.engine.fromHost(t);
    const params: Record<string, unknown> = {};
    if (s.scale) params['scale'] = up(s.scale);
    if (s.bias) params['bias'] = up(s.bias);
    return { module, variables: { params, batch_stats: { mean: up(s.mean), var: up(s.variance) } } as linen.Variables };
  },
  mlx(s, o) {
    const affine = s.scale !== undefined;
    const bn = new MlxBatchNorm(s.channels, { eps: s.epsilon, momentum: s.momentum!, affine, engine: s.engine, ...(o.mlxVersion ? { version: o.mlxVersion } : {}) });
    bn.loadWeights({ ...(affine ? { weight: s.scale!, bias: s.bias! } : {}), running_mean: s.mean, running_var: s.variance }, true);
    return bn;
  },
  keras(s, o) {
    const bn = new BatchNormalization({ epsilon: s.epsilon, momentum: s.momentum!, center: s.bias !== undefined, scale: s.scale !== undefined, engine: s.engine });
    const rank = o.kerasInputRank ?? 4;
    bn.build([...Array<null>(rank - 1).fill(null), s.channels]);
    bn.setWeights([...(s.scale ? [s.scale] : []), ...(s.bias ? [s.bias] : []), s.mean, s.variance]);
    return bn;
  },
};
