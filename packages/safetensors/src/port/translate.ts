/**
 * One conversion, without touching the file system: the source's keys are parsed into neutral
 * layers, BatchNorm config is attached, and the target's keys, layouts and metadata are emitted.
 *
 * Batch counter policy (`num_batches_tracked`):
 * - leaving PyTorch, the tensor is not written (no other framework has one) but its value is
 *   kept in the output's `normbridge` metadata, so that a later conversion back restores it;
 * - entering PyTorch, it is written as an int64 scalar: the source's counter, else the count
 *   from metadata, else 0 (a note says so; PyTorch only reads it with `momentum=None`).
 */
import type { RunningAverage } from '@normbridge/core';
import { runningAverageFrom } from '@normbridge/frameworks';
import { ConversionError } from '../errors.js';
import { formatNumber } from '../format-util.js';
import { decodeNative } from '../format/decode.js';
import type { TensorReader } from '../io/reader.js';
import type { LazyTensor } from '../io/tensor-input.js';
import {
  momentumFor,
  NORMBRIDGE_METADATA_KEY,
  readConfigMetadata,
  writeConfigMetadata,
  type ConfigRecordOut,
} from './config.js';
import { emitLayers } from './emit.js';
import { FRAMEWORKS, isFramework, NAMINGS, type Framework } from './frameworks/index.js';
import type { Issues } from './issues.js';
import { convLayoutName } from './layouts.js';
import { channelsOf, type BatchNormLayer, type Layer, type LayerKind } from './model.js';
import type { FrameworkNaming } from './naming.js';
import { comparePaths } from './natural-order.js';
import { parseKeys } from './parse.js';
import type { ConversionReport, LayerReport } from './report.js';
import type { TensorRef } from './tensor-ref.js';

export interface TranslateOptions {
  /** The framework whose names the input uses. */
  readonly from: Framework;
  /** The framework whose names the output gets. */
  readonly to: Framework;
  /**
   * Separator of the input's flattened names (Flax and NNX trees are flattened with `/` or `.`).
   * @default detected from the keys
   */
  readonly inputSeparator?: string | undefined;
  /**
   * Separator for the output's names: `/` or `.` for Flax and NNX; fixed for the others.
   * @default the target's usual one (`.` for torch/MLX, `/` for Flax, NNX and Keras)
   */
  readonly outputSeparator?: string | undefined;
  /**
   * eps and momentum (in the source framework's own convention; `null` for PyTorch's cumulative
   * average) of BatchNorm layers whose config is not in the input's `normbridge` metadata.
   * @default the source framework's constructor defaults (e.g. torch eps 1e-5, momentum 0.1)
   */
  readonly assume?: { readonly epsilon?: number | undefined; readonly momentum?: number | null | undefined } | undefined;
  /**
   * Renames module paths (segments) on the way, e.g. `['layer1', '0']` → `['layer1_0']`.
   * @default the identity: segments are kept and joined with the target's separator
   */
  readonly mapPath?: ((path: readonly string[], kind: LayerKind) => readonly string[]) | undefined;
  /**
   * Extra `__metadata__` entries for the output (they override the generated `format`).
   * @default {}
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface TranslationResult {
  /** Output tensors by key; bytes are read from the source when written. */
  readonly tensors: Map<string, LazyTensor>;
  readonly metadata: Record<string, string>;
  readonly report: Omit<ConversionReport, 'output' | 'writtenBytes'>;
}

export async function translateCheckpoint(reader: TensorReader, options: TranslateOptions): Promise<TranslationResult> {
  for (const f of [options.from, options.to]) {
    if (!isFramework(f)) throw new ConversionError('unknown-framework', `unknown framework ${JSON.stringify(f)}; use ${FRAMEWORKS.join(', ')}`);
  }
  const source = NAMINGS[options.from];
  const target = NAMINGS[options.to];
  const outSep = options.outputSeparator ?? target.separators[0]!;
  if (!target.separators.includes(outSep)) {
    throw new ConversionError('invalid-config', `${target.framework} names use ${target.separators.map((s) => `"${s}"`).join(' or ')}, not "${outSep}"`);
  }

  const refs: TensorRef[] = [...reader.tensors]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({ dtype: t.dtype, shape: t.shape, sourceKey: t.name, load: () => reader.bytes(t.name) }));
  const parsed = parseKeys(source, refs, options.inputSeparator);
  const issues = parsed.issues;
  const configs = readConfigMetadata(reader.metadata, source.momentumConvention);
  issues.notes.push(...configs.notes);

  // Each layer keeps its source path for the report; `mapPath` renames it for the target.
  const pairs: { readonly source: Layer; readonly target: Layer }[] = [];
  for (const parsedLayer of parsed.layers) {
    const layer =
      parsedLayer.kind === 'batchnorm'
        ? await withConfig(parsedLayer, source, parsed.separator, configs.layers, options, issues)
        : parsedLayer;
    const renamed = options.mapPath ? ({ ...layer, path: [...options.mapPath(layer.path, layer.kind)] } as Layer) : layer;
    pairs.push({ source: layer, target: renamed });
  }
  pairs.sort((a, b) => comparePaths(a.target.path, b.target.path));
  const mapped = pairs.map((p) => p.target);

  const emitted = emitLayers(target, outSep, mapped, issues);
  const tensors = new Map<string, LazyTensor>();
  for (const e of emitted) tensors.set(e.key, { dtype: e.ref.dtype, shape: e.ref.shape, read: () => e.ref.load() });

  const kernelOf = new Map(emitted.filter((e) => e.role === 'kernel').map((e) => [e.layer, e.ref]));
  const bnLayers = mapped.filter((l): l is BatchNormLayer => l.kind === 'batchnorm');
  const records = new Map<string, ConfigRecordOut>();
  const layerReports: LayerReport[] = [];
  for (const { source: original, target: layer } of pairs) {
    const targetPath = layer.path.join(outSep);
    const sourcePath = original.path.join(parsed.separator);
    if (layer.kind !== 'batchnorm') {
      const kernel = kernelOf.get(layer)!;
      layerReports.push({ kind: layer.kind, sourcePath, targetPath, shape: kernel.shape, dtype: kernel.dtype });
      continue;
    }
    const cfg = layer.config;
    let momentum: number | null | undefined;
    if (cfg?.runningAverage !== undefined) {
      const m = momentumFor(cfg.runningAverage, target.framework);
      if ('unsupported' in m) issues.notes.push(`layer "${targetPath}": momentum not carried over (${m.unsupported})`);
      else momentum = m.momentum;
    }
    const count = layer.numBatchesTracked;
    records.set(targetPath, {
      epsilon: cfg?.epsilon,
      momentum,
      numBatchesTracked: target.leaves.count === undefined ? count : undefined,
    });
    const c = channelsOf(layer);
    layerReports.push({
      kind: 'batchnorm',
      sourcePath,
      targetPath,
      shape: c === undefined ? [] : [c],
      dtype: (layer.mean ?? layer.variance ?? layer.scale ?? layer.bias)?.dtype,
      epsilon: cfg?.epsilon,
      momentum,
      configOrigin: cfg?.origin,
      numBatchesTracked: count === undefined || count > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(count),
    });
  }

  addPolicyNotes(source, target, bnLayers, mapped, issues);
  const metadata: Record<string, string> = {
    format: target.formatTag,
    [NORMBRIDGE_METADATA_KEY]: writeConfigMetadata(target.framework, target.momentumConvention, source.framework, records),
    ...options.metadata,
  };
  const counts: Record<LayerKind, number> = { batchnorm: 0, conv: 0, linear: 0 };
  for (const l of mapped) counts[l.kind]++;
  const ok = issues.missing.length === 0 && issues.unexpected.length === 0 && issues.shapeMismatches.length === 0 && issues.invalidValues.length === 0;
  return {
    tensors,
    metadata,
    report: {
      from: source.framework,
      to: target.framework,
      input: reader.source,
      sourceTensors: reader.tensors.length,
      writtenTensors: tensors.size,
      layers: layerReports,
      counts,
      missing: issues.missing,
      unexpected: issues.unexpected,
      shapeMismatches: issues.shapeMismatches,
      invalidValues: issues.invalidValues,
      notes: issues.notes,
      ok,
      metadata,
    },
  };
}

async function withConfig(
  layer: BatchNormLayer,
  source: FrameworkNaming,
  sep: string,
  records: ReadonlyMap<string, { epsilon?: number | undefined; runningAverage?: RunningAverage | undefined; numBatchesTracked?: bigint | undefined }>,
  options: TranslateOptions,
  issues: Issues,
): Promise<BatchNormLayer> {
  const record = records.get(layer.path.join(sep));
  let count = record?.numBatchesTracked;
  if (layer.count !== undefined && !issues.shapeMismatches.some((m) => m.key === layer.count!.sourceKey)) {
    const value = BigInt(decodeNative(await layer.count.load(), layer.count.dtype)[0]!);
    count = checkCounter(value, layer.count.sourceKey, issues);
  }
  const assumedEps = options.assume?.epsilon ?? source.defaults.epsilon;
  const assumedMomentum = options.assume?.momentum === undefined ? source.defaults.momentum : options.assume.momentum;
  const epsilon = record?.epsilon ?? assumedEps;
  let runningAverage = record?.runningAverage;
  // `null` (a cumulative average) has no decay form: the momentum is then left unknown.
  if (runningAverage === undefined && !(assumedMomentum === null && source.momentumConvention === 'decay')) {
    runningAverage = runningAverageFrom(assumedMomentum, source.momentumConvention);
  }
  const origin = record?.epsilon !== undefined && record.runningAverage !== undefined ? 'metadata' : 'assumed';
  return { ...layer, numBatchesTracked: count, config: { epsilon, runningAverage, origin } };
}

/** Largest count an int64 `num_batches_tracked` holds. */
const INT64_MAX = (1n << 63n) - 1n;

/**
 * A counter is carried only when it is a count: a negative value, or a U64 above int64's range
 * (which would wrap to a negative int64), is reported and dropped; one above 2^53 - 1 is written
 * exactly but reported, because layers hold counts as JavaScript numbers and would round it.
 */
function checkCounter(value: bigint, key: string, issues: Issues): bigint | undefined {
  if (value < 0n) {
    issues.invalidValues.push({ key, reason: `batch counter is negative (${value}); not carried` });
    return undefined;
  }
  if (value > INT64_MAX) {
    issues.invalidValues.push({ key, reason: `batch counter ${value} does not fit in int64 (PyTorch's counter type); not carried` });
    return undefined;
  }
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    issues.invalidValues.push({ key, reason: `batch counter ${value} is above 2^53 - 1: written exactly, but a loaded layer would round it` });
  }
  return value;
}

function addPolicyNotes(
  source: FrameworkNaming,
  target: FrameworkNaming,
  bn: readonly BatchNormLayer[],
  all: readonly Layer[],
  issues: Issues,
): void {
  const assumed = bn.filter((l) => l.config?.origin === 'assumed').length;
  if (assumed > 0) {
    issues.notes.push(
      `${assumed} BatchNorm layer(s) carry no eps/momentum in the input's metadata; assumed ${describeAssumption(bn, source)}. ` +
        'Pass `assume` (CLI: --eps, --momentum) if the model was built with other values.',
    );
  }
  const hadCounter = bn.filter((l) => l.count !== undefined).length;
  if (target.leaves.count === undefined && hadCounter > 0) {
    issues.notes.push(
      `dropped ${hadCounter} ${source.leaves.count} tensor(s): ${target.framework} has no batch counter; the counts are kept in the "${NORMBRIDGE_METADATA_KEY}" metadata.`,
    );
  }
  if (target.leaves.count !== undefined) {
    const created = bn.filter((l) => l.count === undefined);
    const restored = created.filter((l) => l.numBatchesTracked !== undefined).length;
    if (restored > 0) issues.notes.push(`restored ${restored} ${target.leaves.count} tensor(s) from the "${NORMBRIDGE_METADATA_KEY}" metadata.`);
    if (created.length - restored > 0) {
      issues.notes.push(
        `created ${created.length - restored} ${target.leaves.count} tensor(s) as int64 0: the source does not record a count ` +
          '(PyTorch uses it only with momentum=None).',
      );
    }
  }
  // Same framework on both sides: nothing about defaults or layouts changes.
  if (source.framework === target.framework) return;
  const eps = new Map<number, number>();
  for (const l of bn) if (l.config?.epsilon !== undefined) eps.set(l.config.epsilon, (eps.get(l.config.epsilon) ?? 0) + 1);
  for (const [e, n] of eps) {
    if (e !== target.defaults.epsilon) {
      issues.notes.push(
        `${n} BatchNorm layer(s) need epsilon=${formatNumber(e)}, but ${target.framework} defaults to ${formatNumber(target.defaults.epsilon)}: pass it when building them (it is in the output's metadata).`,
      );
    }
  }
  const momenta = new Map<string, number>();
  for (const l of bn) {
    const avg = l.config?.runningAverage;
    if (avg === undefined) continue;
    const m = momentumFor(avg, target.framework);
    if ('momentum' in m && m.momentum !== target.defaults.momentum) {
      const key = String(m.momentum);
      momenta.set(key, (momenta.get(key) ?? 0) + 1);
    }
  }
  for (const [m, n] of momenta) {
    issues.notes.push(
      `${n} BatchNorm layer(s) need momentum=${m} in ${target.framework}'s ${target.momentumConvention} convention (default ${target.defaults.momentum}).`,
    );
  }
  const convs = all.filter((l) => l.kind === 'conv');
  if (convs.length > 0 && source.convLayout !== target.convLayout) {
    const rank = convs[0]!.kernel.shape.length;
    issues.notes.push(
      `transposed ${convs.length} convolution kernel(s) ${convLayoutName(source.convLayout, rank)} → ${convLayoutName(target.convLayout, rank)}.`,
    );
  }
  const linears = all.filter((l) => l.kind === 'linear').length;
  if (linears > 0 && source.linearLayout !== target.linearLayout) {
    issues.notes.push(`transposed ${linears} dense kernel(s) ${source.linearLayout === 'OI' ? '[out, in] → [in, out]' : '[in, out] → [out, in]'}.`);
  }
}

function describeAssumption(bn: readonly BatchNormLayer[], source: FrameworkNaming): string {
  const l = bn.find((x) => x.config?.origin === 'assumed');
  const eps = l?.config?.epsilon;
  const avg = l?.config?.runningAverage;
  const m = avg === undefined ? 'none' : momentumFor(avg, source.framework);
  const mText = typeof m === 'string' ? m : 'momentum' in m ? String(m.momentum) : m.unsupported;
  return `${source.framework}'s eps ${formatNumber(eps)} and momentum ${mText}`;
}
