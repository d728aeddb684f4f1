/**
 * `normbridge inspect FILE`: tensors, dtypes and shapes, plus the BatchNorm layers found and a
 * summary of their statistics. Statistics are read tensor by tensor; kernels are never loaded.
 */
import { stat } from 'node:fs/promises';
import { decodeToFloat32 } from '../format/decode.js';
import type { SafetensorsDtype } from '../format/dtypes.js';
import { openCheckpoint } from '../io/open-checkpoint.js';
import type { TensorReader } from '../io/reader.js';
import { momentumFor, readConfigMetadata } from '../port/config.js';
import type { Framework } from '../port/frameworks/index.js';
import { NAMINGS } from '../port/frameworks/index.js';
import { channelsOf, type BatchNormLayer, type LayerKind } from '../port/model.js';
import { comparePaths, compareSegments } from '../port/natural-order.js';
import { parseKeys } from '../port/parse.js';
import type { TensorRef } from '../port/tensor-ref.js';
import { detectFramework } from './detect-framework.js';

export interface InspectOptions {
  /**
   * Read the names as this framework's instead of detecting it.
   * @default detected from metadata and key names
   */
  readonly framework?: Framework | undefined;
}

export interface TensorSummary {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** The shard that holds it (sharded checkpoints only). */
  readonly file?: string | undefined;
}

export interface Range {
  readonly min: number;
  readonly max: number;
  /** Non-finite values (NaN, ±Infinity), left out of min and max. */
  readonly nonFinite: number;
}

export interface BatchNormSummary {
  readonly path: string;
  readonly channels: number | undefined;
  readonly dtype: SafetensorsDtype | undefined;
  readonly runningMean: Range | undefined;
  readonly runningVar: Range | undefined;
  readonly scale: Range | undefined;
  readonly bias: Range | undefined;
  readonly epsilon: number | undefined;
  /** In the checkpoint framework's convention. */
  readonly momentum: number | null | undefined;
  /** `metadata`: from the file; `default`: the framework's constructor default (not recorded). */
  readonly configOrigin: 'metadata' | 'default';
  readonly numBatchesTracked: number | undefined;
  /** Values that would break inference: negative or non-finite variances, non-finite means. */
  readonly warnings: readonly string[];
}

export interface InspectReport {
  readonly path: string;
  readonly files: readonly string[];
  readonly fileBytes: number;
  readonly metadata: Readonly<Record<string, string>> | undefined;
  readonly tensors: readonly TensorSummary[];
  readonly totals: {
    readonly tensors: number;
    readonly elements: number;
    readonly bytes: number;
    readonly byDtype: Readonly<Partial<Record<SafetensorsDtype, { readonly tensors: number; readonly bytes: number }>>>;
  };
  readonly framework: Framework | undefined;
  readonly frameworkReason: string;
  readonly layerCounts: Readonly<Record<LayerKind, number>>;
  readonly batchNorm: readonly BatchNormSummary[];
  /** Tensors that are not part of a recognised BatchNorm, conv or dense layer. */
  readonly otherTensors: number;
  readonly notes: readonly string[];
}

export async function inspectCheckpoint(path: string, options: InspectOptions = {}): Promise<InspectReport> {
  const reader = await openCheckpoint(path);
  try {
    return await inspectReader(reader, options);
  } finally {
    await reader.close();
  }
}

/** {@link inspectCheckpoint} on an open reader (e.g. an in-memory buffer). */
export async function inspectReader(reader: TensorReader, options: InspectOptions = {}): Promise<InspectReport> {
  const sharded = reader.tensors.some((t) => reader.fileOf(t.name) !== reader.source);
  const files = [...new Set(reader.tensors.map((t) => reader.fileOf(t.name)))];
  if (files.length === 0) files.push(reader.source);
  let fileBytes = 0;
  for (const f of files) fileBytes += f === '<memory>' ? 0 : (await stat(f)).size;

  const tensors: TensorSummary[] = reader.tensors
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength, file: sharded ? reader.fileOf(t.name) : undefined }))
    .sort((a, b) => compareSegments(a.name, b.name));
  const byDtype: Partial<Record<SafetensorsDtype, { tensors: number; bytes: number }>> = {};
  let elements = 0;
  let bytes = 0;
  for (const t of reader.tensors) {
    const d = (byDtype[t.dtype] ??= { tensors: 0, bytes: 0 });
    d.tensors++;
    d.bytes += t.byteLength;
    elements += t.numel;
    bytes += t.byteLength;
  }

  const guess = options.framework
    ? { framework: options.framework, reason: 'given' }
    : detectFramework(reader.tensors.map((t) => t.name), reader.metadata);
  const layerCounts: Record<LayerKind, number> = { batchnorm: 0, conv: 0, linear: 0 };
  const batchNorm: BatchNormSummary[] = [];
  const notes: string[] = [];
  let otherTensors = reader.tensors.length;
  if (guess.framework !== undefined) {
    const naming = NAMINGS[guess.framework];
    const refs: TensorRef[] = reader.tensors.map((t) => ({ dtype: t.dtype, shape: t.shape, sourceKey: t.name, load: () => reader.bytes(t.name) }));
    const parsed = parseKeys(naming, refs);
    const configs = readConfigMetadata(reader.metadata, naming.momentumConvention);
    notes.push(...configs.notes);
    otherTensors = parsed.issues.unexpected.length;
    for (const layer of parsed.layers) layerCounts[layer.kind]++;
    const bnLayers = parsed.layers.filter((l): l is BatchNormLayer => l.kind === 'batchnorm').sort((a, b) => comparePaths(a.path, b.path));
    for (const layer of bnLayers) {
      const path = layer.path.join(parsed.separator);
      const record = configs.layers.get(path);
      let momentum: number | null | undefined = naming.defaults.momentum;
      if (record?.runningAverage !== undefined) {
        const m = momentumFor(record.runningAverage, naming.framework);
        momentum = 'momentum' in m ? m.momentum : undefined;
      }
      const fromMetadata = record?.epsilon !== undefined || record?.runningAverage !== undefined;
      const warnings: string[] = [];
      const runningMean = await rangeOf(reader, layer.mean);
      const runningVar = await rangeOf(reader, layer.variance);
      if (runningMean && runningMean.nonFinite > 0) warnings.push(`${runningMean.nonFinite} non-finite running mean value(s)`);
      if (runningVar && runningVar.nonFinite > 0) warnings.push(`${runningVar.nonFinite} non-finite running variance value(s)`);
      if (runningVar && runningVar.min < 0) warnings.push(`negative running variance (min ${runningVar.min})`);
      let count = record?.numBatchesTracked === undefined ? undefined : Number(record.numBatchesTracked);
      if (layer.count !== undefined) {
        const counter = await readCounter(reader, layer.count);
        count = counter.value;
        if (counter.warning !== undefined) warnings.push(counter.warning);
      }
      batchNorm.push({
        path,
        channels: channelsOf(layer),
        dtype: (layer.mean ?? layer.variance ?? layer.scale)?.dtype,
        runningMean,
        runningVar,
        scale: await rangeOf(reader, layer.scale),
        bias: await rangeOf(reader, layer.bias),
        epsilon: record?.epsilon ?? naming.defaults.epsilon,
        momentum,
        configOrigin: fromMetadata ? 'metadata' : 'default',
        numBatchesTracked: count,
        warnings,
      });
    }
  }
  return {
    path: reader.source,
    files,
    fileBytes,
    metadata: reader.metadata,
    tensors,
    totals: { tensors: reader.tensors.length, elements, bytes, byDtype },
    framework: guess.framework,
    frameworkReason: guess.reason,
    layerCounts,
    batchNorm,
    otherTensors,
    notes,
  };
}

/**
 * Elements decoded at a time when summarising a statistic: a hostile file may hold a "running
 * mean" of 10^9 elements, which is streamed through a buffer of this size instead of decoded
 * whole (4 MB of float32).
 */
const RANGE_CHUNK_ELEMENTS = 1 << 20;

async function rangeOf(reader: TensorReader, ref: TensorRef | undefined): Promise<Range | undefined> {
  if (ref === undefined) return undefined;
  const info = reader.info(ref.sourceKey);
  const size = info.numel === 0 ? 0 : info.byteLength / info.numel;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  const chunk = Math.min(info.numel, RANGE_CHUNK_ELEMENTS);
  const raw = new Uint8Array(chunk * size);
  const values = new Float32Array(chunk);
  for (let start = 0; start < info.numel; start += chunk) {
    const n = Math.min(chunk, info.numel - start);
    const bytes = await reader.bytesInto(ref.sourceKey, start * size, raw.subarray(0, n * size));
    const v = decodeToFloat32(bytes, info.dtype, values.subarray(0, n));
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x)) {
        nonFinite++;
        continue;
      }
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  return { min, max, nonFinite };
}

/**
 * The batch counter's value, or a warning when it is not one non-negative integer that a
 * JavaScript number holds exactly (a shape-[0] or float counter, a negative count, one above
 * 2^53 - 1): such a value is never shown as if it were a count.
 */
async function readCounter(reader: TensorReader, ref: TensorRef): Promise<{ value: number | undefined; warning?: string }> {
  const info = reader.info(ref.sourceKey);
  if (info.numel !== 1) return { value: undefined, warning: `batch counter ${info.dtype}[${info.shape.join(', ')}] is not one value` };
  if (!/^[IU]\d/.test(info.dtype)) return { value: undefined, warning: `batch counter is ${info.dtype}, not an integer type` };
  const raw = (await reader.native(ref.sourceKey))[0]!;
  const big = typeof raw === 'bigint' ? raw : BigInt(raw);
  if (big < 0n) return { value: undefined, warning: `batch counter is negative (${big})` };
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) return { value: undefined, warning: `batch counter ${big} is above 2^53 - 1 and cannot be held exactly` };
  return { value: Number(big) };
}
