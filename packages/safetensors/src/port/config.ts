/**
 * BatchNorm eps, momentum and batch counter travel in `__metadata__` under `normbridge`, a
 * JSON string (a state dict has no place for them):
 *
 *     {"version":1,"framework":"flax","momentumConvention":"decay","convertedFrom":"torch",
 *      "batchNorm":{"layer1/0/bn1":{"epsilon":1e-05,"momentum":0.9,"numBatchesTracked":3}}}
 *
 * Layers are keyed by module path joined with the file's own separator (Flax linen: without the
 * collection). `momentum` is in the file's framework's convention; `null` is PyTorch's
 * cumulative average. `numBatchesTracked` is written only for frameworks without a counter
 * tensor, so that the count survives a round trip through them.
 */
import { NormbridgeError, type RunningAverage } from '@normbridge/core';
import { CHECKPOINT_PROFILES, momentumIn, runningAverageFrom, type MomentumConvention } from '@normbridge/frameworks';
import { isJsonObject, JsonDecimal, parseStrictJson, type JsonValue } from '../format/strict-json.js';
import { isFramework, type Framework } from './frameworks/index.js';

export const NORMBRIDGE_METADATA_KEY = 'normbridge';
export const CONFIG_VERSION = 1;

export interface LayerConfigRecord {
  readonly epsilon?: number | undefined;
  /** Canonical; undefined when the record has no momentum. */
  readonly runningAverage?: RunningAverage | undefined;
  readonly numBatchesTracked?: bigint | undefined;
}

export interface ConfigReadResult {
  readonly layers: Map<string, LayerConfigRecord>;
  readonly notes: string[];
}

/** Reads the `normbridge` metadata entry; problems become notes, never errors (it is advisory). */
export function readConfigMetadata(
  metadata: Readonly<Record<string, string>> | undefined,
  fallbackConvention: MomentumConvention,
): ConfigReadResult {
  const layers = new Map<string, LayerConfigRecord>();
  const notes: string[] = [];
  const raw = metadata?.[NORMBRIDGE_METADATA_KEY];
  if (raw === undefined) return { layers, notes };
  const ignore = (why: string): ConfigReadResult => {
    notes.push(`ignored the "${NORMBRIDGE_METADATA_KEY}" metadata: ${why}`);
    return { layers: new Map(), notes };
  };
  let root: JsonValue;
  try {
    root = parseStrictJson(raw);
  } catch (e) {
    return ignore((e as Error).message);
  }
  if (!isJsonObject(root)) return ignore('not a JSON object');
  const version = root.get('version');
  if (version !== CONFIG_VERSION) return ignore(`unsupported version ${String(version)}`);
  let convention = fallbackConvention;
  const declared = root.get('momentumConvention');
  const framework = root.get('framework');
  if (declared === 'batch-weight' || declared === 'decay') convention = declared;
  else if (isFramework(framework)) convention = CHECKPOINT_PROFILES[framework].momentum.convention;
  const bn = root.get('batchNorm');
  if (bn === undefined) return { layers, notes };
  if (!isJsonObject(bn)) return ignore('"batchNorm" is not an object');
  for (const [path, entry] of bn) {
    if (!isJsonObject(entry)) {
      notes.push(`ignored metadata for layer "${path}": not an object`);
      continue;
    }
    try {
      layers.set(path, {
        epsilon: optionalNumber(entry.get('epsilon'), 'epsilon'),
        runningAverage: momentumToCanonical(entry.get('momentum'), convention),
        numBatchesTracked: optionalCount(entry.get('numBatchesTracked')),
      });
    } catch (e) {
      notes.push(`ignored metadata for layer "${path}": ${(e as Error).message}`);
    }
  }
  return { layers, notes };
}

function optionalNumber(v: JsonValue | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const n = v instanceof JsonDecimal ? v.value : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`${field} must be a non-negative number`);
  return n;
}

function optionalCount(v: JsonValue | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v)) return BigInt(v);
  throw new Error('numBatchesTracked must be a non-negative integer');
}

function momentumToCanonical(v: JsonValue | undefined, convention: MomentumConvention): RunningAverage | undefined {
  if (v === undefined) return undefined;
  return runningAverageFrom(v === null ? null : optionalNumber(v, 'momentum')!, convention);
}

/** Canonical → a framework's momentum; `undefined` with a reason when it has no such form. */
export function momentumFor(average: RunningAverage, framework: Framework): { momentum: number | null } | { unsupported: string } {
  const profile = CHECKPOINT_PROFILES[framework];
  try {
    const m = momentumIn(average, profile.momentum.convention);
    if (m === null && !profile.momentum.cumulative) return { unsupported: `${framework} has no cumulative average (momentum=None)` };
    return { momentum: m === null ? null : tidy(m) };
  } catch (e) {
    if (e instanceof NormbridgeError) return { unsupported: `${framework}: ${e.message}` };
    throw e;
  }
}

/**
 * `1 - m` in float64 turns 0.1 into 0.09999999999999998 on the way back from 0.9. Momenta are
 * written by people as short decimals, so the result is rounded to 15 significant digits (a
 * change below 1e-15, far under float32 resolution) and 0.1 ↔ 0.9 round-trips exactly.
 */
export function tidy(x: number): number {
  return Number(x.toPrecision(15));
}

export interface ConfigRecordOut {
  readonly epsilon?: number | undefined;
  readonly momentum?: number | null | undefined;
  readonly numBatchesTracked?: bigint | undefined;
}

export function writeConfigMetadata(
  framework: string,
  convention: MomentumConvention,
  convertedFrom: string,
  layers: ReadonlyMap<string, ConfigRecordOut>,
): string {
  // Prototype-less, so that a module named __proto__ is stored as data.
  const bn = Object.create(null) as Record<string, unknown>;
  for (const [path, r] of [...layers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entry: Record<string, unknown> = {};
    if (r.epsilon !== undefined) entry['epsilon'] = r.epsilon;
    if (r.momentum !== undefined) entry['momentum'] = r.momentum;
    if (r.numBatchesTracked !== undefined) {
      const n = r.numBatchesTracked;
      entry['numBatchesTracked'] = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    bn[path] = entry;
  }
  return JSON.stringify({
    batchNorm: bn,
    convertedFrom,
    framework,
    momentumConvention: convention,
    version: CONFIG_VERSION,
  });
}
