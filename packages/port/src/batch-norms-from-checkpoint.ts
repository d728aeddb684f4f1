/**
 * Checkpoint to model: every BatchNorm a checkpoint holds, built as layers of one framework's
 * adapter and keyed by module path. The checkpoint goes through `translateCheckpoint`, the
 * mapping behind `normbridge convert`, so names, momentum conventions and batch counters are
 * translated in one place; this file only decides whether the eps and momentum are known.
 */
import type { Engine, HostTensor, RunningAverage } from '@normbridge/core';
import { momentumIn, runningAverageFrom } from '@normbridge/frameworks';
import {
  decodeNative,
  decodeToFloat32,
  detectFramework,
  NAMINGS,
  openCheckpoint,
  parseKeys,
  translateCheckpoint,
  type BatchNormLayer,
  type ConfigOrigin,
  type ConversionReport,
  type Framework,
  type LayerKind,
  type TensorReader,
  type TensorRef,
} from '@normbridge/safetensors';
import { PortError } from './errors.js';
import { BUILDERS, SEPARATE_SCALE_AND_BIAS, TARGET_NAMING, type PortTarget, type TargetLayers, type TargetOptions } from './targets.js';

export interface BatchNormsFromCheckpointOptions<K extends PortTarget, T> extends TargetOptions {
  /** The adapter to build the layers with. */
  readonly as: K;
  /** The engine the layers compute on. */
  readonly engine: Engine<T>;
  /**
   * The framework whose names the checkpoint uses.
   * @default detected from the metadata and the variable names (as `normbridge inspect` does)
   */
  readonly from?: Framework | undefined;
  /**
   * eps and momentum for layers whose config is not in the checkpoint's `normbridge` metadata,
   * in the SOURCE framework's convention (PyTorch: momentum 0.1, `null` for a cumulative
   * average), exactly as `normbridge convert --eps/--momentum` takes them. Without it, such
   * layers get the source framework's defaults, which is only allowed when the target's
   * defaults are the same (else a {@link PortError} `batchnorm-config-unknown`).
   * @default undefined
   */
  readonly assume?: { readonly epsilon?: number | undefined; readonly momentum?: number | null | undefined } | undefined;
  /**
   * Renames module paths on the way (e.g. `['layer1', '0']` → `['layer1_0']`).
   * @default the identity
   */
  readonly mapPath?: ((path: readonly string[], kind: LayerKind) => readonly string[]) | undefined;
}

export interface LayerConfig {
  readonly epsilon: number;
  /** In the target framework's convention. */
  readonly momentum: number | null;
  /** `metadata`: both read from the file; `assumed`: from `assume` or the defaults. */
  readonly origin: ConfigOrigin;
}

export interface PortedBatchNorms<K extends PortTarget, T> {
  /** Adapter layers by module path, joined with the target's separator (`layer1.0.bn1`, `layer1/0/bn1`). */
  readonly layers: Map<string, TargetLayers<T>[K]>;
  readonly configs: Map<string, LayerConfig>;
  /** The translation's report (what `normbridge convert` prints), for conv/dense layers and notes. */
  readonly report: Omit<ConversionReport, 'output' | 'writtenBytes'>;
}

/**
 * Builds every BatchNorm of a checkpoint (a `.safetensors` path, a sharded index, or an open
 * reader) as layers of `options.as`, with its running statistics, affine parameters, batch
 * counter, eps and momentum.
 */
export async function batchNormsFromCheckpoint<K extends PortTarget, T>(
  checkpoint: string | TensorReader,
  options: BatchNormsFromCheckpointOptions<K, T>,
): Promise<PortedBatchNorms<K, T>> {
  const reader = typeof checkpoint === 'string' ? await openCheckpoint(checkpoint) : checkpoint;
  try {
    return await build(reader, options);
  } finally {
    if (typeof checkpoint === 'string') await reader.close();
  }
}

async function build<K extends PortTarget, T>(reader: TensorReader, options: BatchNormsFromCheckpointOptions<K, T>): Promise<PortedBatchNorms<K, T>> {
  const from = options.from ?? detected(reader);
  const to = TARGET_NAMING[options.as];
  if (to === undefined) throw new PortError('invalid-checkpoint', `unknown target ${JSON.stringify(options.as)}`);
  const { tensors, report } = await translateCheckpoint(reader, { from, to, assume: options.assume, mapPath: options.mapPath });
  const bnMismatches = report.shapeMismatches;
  if (bnMismatches.length > 0) {
    throw new PortError('invalid-checkpoint', `${reader.source}: ${bnMismatches.map((m) => `${m.key}: ${m.reason}`).join('; ')}`);
  }
  const configs = checkConfigs(report, from, to, options.assume !== undefined);

  const naming = NAMINGS[to];
  const sep = naming.separators[0]!;
  const refs: TensorRef[] = [...tensors].map(([key, t]) => ({ dtype: t.dtype, shape: t.shape, sourceKey: key, load: () => t.read() }));
  const parsed = parseKeys(naming, refs, sep);
  const layers = new Map<string, TargetLayers<T>[K]>();
  const builder = BUILDERS[options.as] as <U>(s: Parameters<(typeof BUILDERS)['torch']>[0] & { engine: Engine<U> }, o: TargetOptions) => TargetLayers<U>[K];
  const halfAffine = parsed.layers.filter((l): l is BatchNormLayer => l.kind === 'batchnorm' && (l.scale === undefined) !== (l.bias === undefined));
  if (halfAffine.length > 0 && !SEPARATE_SCALE_AND_BIAS[options.as]) {
    // Building it would drop the one it has (affine=False) or fail on the one it lacks.
    const paths = halfAffine.map((l) => l.path.join(sep));
    throw new PortError(
      'affine-unsupported',
      `${paths.length} BatchNorm layer(s) (${preview(paths)}) have a scale without a bias or the reverse; ${options.as} has both (affine) or neither`,
      paths,
    );
  }
  for (const layer of parsed.layers) {
    if (layer.kind !== 'batchnorm') continue;
    const path = layer.path.join(sep);
    const config = configs.get(path)!;
    const values = await load(layer, path, reader.source);
    layers.set(path, builder({ ...values, epsilon: config.epsilon, momentum: config.momentum, engine: options.engine }, options));
  }
  return { layers, configs, report };
}

function detected(reader: TensorReader): Framework {
  const guess = detectFramework(reader.tensors.map((t) => t.name), reader.metadata);
  if (guess.framework === undefined) {
    throw new PortError('unknown-source-framework', `${reader.source}: cannot tell which framework wrote it (${guess.reason}); pass \`from\``);
  }
  return guess.framework;
}

/** Canonical batch weight of a framework's default momentum (PyTorch 0.1, Flax 0.99 → 0.01). */
function defaultAverage(framework: Framework): RunningAverage {
  const n = NAMINGS[framework];
  return runningAverageFrom(n.defaults.momentum, n.momentumConvention);
}

function sameAverage(a: RunningAverage, b: RunningAverage): boolean {
  const x = momentumIn(a, 'batch-weight');
  const y = momentumIn(b, 'batch-weight');
  return x === y || (x !== null && y !== null && Math.abs(x - y) < 1e-12);
}

/** eps/momentum of each layer, refusing assumed ones where the two frameworks' defaults disagree. */
function checkConfigs(
  report: PortedBatchNorms<PortTarget, unknown>['report'],
  from: Framework,
  to: Framework,
  explicit: boolean,
): Map<string, LayerConfig> {
  const source = NAMINGS[from];
  const target = NAMINGS[to];
  const differing: string[] = [];
  if (source.defaults.epsilon !== target.defaults.epsilon) differing.push(`eps (${from} ${source.defaults.epsilon}, ${to} ${target.defaults.epsilon})`);
  if (!sameAverage(defaultAverage(from), defaultAverage(to))) {
    differing.push(`momentum (${from} ${source.defaults.momentum}, ${to} ${target.defaults.momentum} in its ${target.momentumConvention} convention)`);
  }
  const unknown: string[] = [];
  const unsupported: string[] = [];
  const configs = new Map<string, LayerConfig>();
  for (const l of report.layers) {
    if (l.kind !== 'batchnorm') continue;
    if (l.configOrigin === 'assumed' && !explicit && differing.length > 0) unknown.push(l.targetPath);
    if (l.momentum === undefined) unsupported.push(l.targetPath);
    configs.set(l.targetPath, { epsilon: l.epsilon!, momentum: l.momentum ?? null, origin: l.configOrigin ?? 'assumed' });
  }
  if (unknown.length > 0) {
    throw new PortError(
      'batchnorm-config-unknown',
      `${unknown.length} BatchNorm layer(s) (${preview(unknown)}) have no eps/momentum in the checkpoint's metadata, and the defaults differ: ` +
        `${differing.join('; ')}. Pass \`assume: { epsilon, momentum }\` in ${from}'s convention (the values the model was built with).`,
      unknown,
    );
  }
  if (unsupported.length > 0) {
    throw new PortError(
      'momentum-unsupported',
      `${unsupported.length} BatchNorm layer(s) (${preview(unsupported)}) use a momentum ${to} cannot express (${report.notes.find((n) => n.includes('momentum not carried')) ?? 'see the report'})`,
      unsupported,
    );
  }
  return configs;
}

function preview(paths: readonly string[]): string {
  return paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')}, … ${paths.length - 3} more`;
}

async function load(layer: BatchNormLayer, path: string, source: string) {
  const vector = async (ref: TensorRef | undefined): Promise<HostTensor | undefined> =>
    ref === undefined ? undefined : { shape: [...ref.shape], data: decodeToFloat32(await ref.load(), ref.dtype), dtype: 'float32' };
  const mean = await vector(layer.mean);
  const variance = await vector(layer.variance);
  if (mean === undefined || variance === undefined) {
    throw new PortError('invalid-checkpoint', `${source}: BatchNorm "${path}" lacks its running ${mean === undefined ? 'mean' : 'variance'}`, [path]);
  }
  let numBatchesTracked = layer.numBatchesTracked ?? 0n;
  if (layer.count !== undefined) numBatchesTracked = BigInt(decodeNative(await layer.count.load(), layer.count.dtype)[0]!);
  return { channels: mean.shape[0]!, mean, variance, scale: await vector(layer.scale), bias: await vector(layer.bias), numBatchesTracked };
}
