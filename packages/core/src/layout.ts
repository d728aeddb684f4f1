import { ShapeError, SingleValuePerChannelError, SpecError, StateError } from './errors.js';
import type { BatchNormSpec } from './spec.js';
import type { HostState, Mode, ReplicaOptions, StateTensorKey } from './state.js';
import { MAX_NUM_FEATURES } from './limits.js';
import { hostTensorProblem, numel, sameShape, stridesOf, type HostTensor } from './tensor.js';

/** Everything about an input's shape that the maths needs, resolved once (as Keras 3 does). */
export interface Layout {
  readonly inputShape: readonly number[];
  /** Number of replicas (1 unless a leading replica axis is in use). */
  readonly replicas: number;
  /** Shape of one replica's input (the input itself without replicas). */
  readonly sampleShape: readonly number[];
  /** Feature axes of one replica's input, non-negative, in the spec's order. */
  readonly featureAxes: readonly number[];
  /** Every other axis, ascending. */
  readonly reductionAxes: readonly number[];
  readonly featureShape: readonly number[];
  /** Product of featureShape. */
  readonly channels: number;
  /** Elements per channel per replica (before any mask). */
  readonly perChannel: number;
  /** Replica groups, validated (one group of all replicas by default). */
  readonly groups: readonly (readonly number[])[];
}

/**
 * Shape of batch statistics and new running statistics as engines return them: the feature
 * shape, stacked as [replicas, ...features] when a replica axis is in use.
 */
export function statisticsShape(layout: Layout): number[] {
  const stacked = layout.replicas > 1 || layout.inputShape.length !== layout.sampleShape.length;
  return stacked ? [layout.replicas, ...layout.featureShape] : [...layout.featureShape];
}

/** The channel of every element of one replica's input, in memory order (an index into the feature shape, row-major). */
export function channelIndex(layout: Layout): Int32Array {
  const { sampleShape, featureAxes, featureShape } = layout;
  const size = layout.channels * layout.perChannel;
  const strides = stridesOf(sampleShape);
  const featStrides = stridesOf(featureShape);
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    let c = 0;
    for (let k = 0; k < featureAxes.length; k++) {
      const axis = featureAxes[k]!;
      const idx = Math.floor(i / strides[axis]!) % sampleShape[axis]!;
      c += idx * featStrides[k]!;
    }
    out[i] = c;
  }
  return out;
}

/** The input seen as `[outer, channels, inner]` in memory order. */
export interface MemoryBlocks {
  readonly outer: number;
  readonly channels: number;
  readonly inner: number;
}

/**
 * Set when the feature axes, in memory (ascending) order, are consecutive (NCHW's axis 1,
 * channels last, or several adjacent axes): the input, replica axis included, is then
 * `[outer, channels, inner]` in memory, so fused kernels walk it without a transpose. NHWC is
 * `inner = 1`; NCHW is `outer = N, inner = H·W`. Channels are numbered in ascending axis order,
 * which is the spec's feature order only when `featureAxes` is ascending.
 */
export function memoryBlocks(layout: Layout): MemoryBlocks | undefined {
  // The axes are distinct (resolveLayout), so they are consecutive when max - min = count - 1.
  const { featureAxes, sampleShape } = layout;
  let first = Infinity;
  let last = -Infinity;
  for (const a of featureAxes) {
    first = Math.min(first, a);
    last = Math.max(last, a);
  }
  if (last - first !== featureAxes.length - 1) return undefined;
  let outer = layout.replicas;
  for (let i = 0; i < first; i++) outer *= sampleShape[i]!;
  let inner = 1;
  for (let i = last + 1; i < sampleShape.length; i++) inner *= sampleShape[i]!;
  return { outer, channels: layout.channels, inner };
}

/** Resolves the spec's feature axes against an input shape. */
export function resolveLayout(spec: BatchNormSpec, inputShape: readonly number[], replicas?: ReplicaOptions): Layout {
  const replicated = replicas !== undefined;
  if (replicated && inputShape.length < 2) {
    throw new ShapeError('replicated input', 'a leading replica axis and at least one more axis', inputShape);
  }
  const r = replicated ? inputShape[0]! : 1;
  const sampleShape = replicated ? inputShape.slice(1) : inputShape;
  const rank = sampleShape.length;
  if (rank < 1) throw new ShapeError('input', 'rank >= 1', inputShape);
  // On the per-call path (ARCHITECTURE.md), so plain loops: with a Set and callbacks this took
  // 36-74 µs of a [32, 64, 56, 56] nb-wasm train call, without them 14-31.
  const featureAxes: number[] = [];
  for (const a of spec.featureAxes) {
    const axis = a < 0 ? rank + a : a;
    if (axis < 0 || axis >= rank) {
      throw new SpecError('featureAxes', spec.featureAxes, `axis ${a} is out of range for an input of rank ${rank}`);
    }
    if (featureAxes.includes(axis)) throw new SpecError('featureAxes', spec.featureAxes, `axis ${a} appears twice`);
    featureAxes.push(axis);
  }
  const reductionAxes: number[] = [];
  for (let i = 0; i < rank; i++) if (!featureAxes.includes(i)) reductionAxes.push(i);
  const featureShape: number[] = [];
  for (const a of featureAxes) featureShape.push(sampleShape[a]!);
  const channels = numel(featureShape);
  const perChannel = channels === 0 ? 0 : numel(sampleShape) / channels;
  return {
    inputShape: inputShape.slice(),
    replicas: r,
    sampleShape,
    featureAxes,
    reductionAxes,
    featureShape,
    channels,
    perChannel,
    groups: resolveGroups(r, replicas?.groups),
  };
}

function resolveGroups(r: number, groups: ReplicaOptions['groups']): number[][] {
  if (groups === undefined) {
    const all: number[] = [];
    for (let i = 0; i < r; i++) all.push(i);
    return [all];
  }
  const seen = new Set<number>();
  for (const g of groups) {
    for (const i of g) {
      if (!Number.isInteger(i) || i < 0 || i >= r || seen.has(i)) {
        throw new SpecError('replicas.groups', groups, `replica ${i} is out of range or repeated (replicas: ${r})`);
      }
      seen.add(i);
    }
  }
  if (seen.size !== r) throw new SpecError('replicas.groups', groups, `groups must cover all ${r} replicas exactly once`);
  return groups.map((g) => [...g]);
}

/** Whether this call computes batch statistics (training, or eval with `evalStatistics: 'batch'`). */
export function usesBatchStatistics(spec: BatchNormSpec, mode: Mode): boolean {
  return mode === 'train' || spec.evalStatistics === 'batch';
}

/** Whether this call writes running statistics. */
export function updatesRunningStatistics(spec: BatchNormSpec, mode: Mode): boolean {
  return mode === 'train' && spec.runningAverage.kind !== 'none';
}

/** Raises the framework's one-value-per-channel error where the spec says to. */
export function checkValuesPerChannel(spec: BatchNormSpec, layout: Layout, mode: Mode): void {
  if (layout.perChannel !== 1 || !usesBatchStatistics(spec, mode)) return;
  if (spec.singleValuePerChannel === 'error' || (spec.singleValuePerChannel === 'error-in-training' && mode === 'train')) {
    throw new SingleValuePerChannelError(layout.inputShape);
  }
}

/** Which state tensors a call needs, given the spec and the mode. */
export function requiredStateKeys(spec: BatchNormSpec, mode: Mode): StateTensorKey[] {
  const keys: StateTensorKey[] = [];
  if (spec.scale) keys.push('scale');
  if (spec.bias) keys.push('bias');
  if (updatesRunningStatistics(spec, mode) || !usesBatchStatistics(spec, mode)) keys.push('runningMean', 'runningVar');
  return keys;
}

/** Checks that the state the call needs is present and shaped like the features. */
export function checkStateShapes(
  spec: BatchNormSpec,
  layout: Layout,
  mode: Mode,
  state: { readonly [K in StateTensorKey]?: { readonly shape: readonly number[] } | undefined },
): void {
  for (const key of requiredStateKeys(spec, mode)) {
    const t = state[key];
    if (t === undefined) throw new StateError(key, `is missing (required for ${mode} with this spec)`);
    if (!sameShape(t.shape, layout.featureShape)) {
      throw new StateError(
        key,
        `has shape [${t.shape.join(', ')}] but the input's features have shape [${layout.featureShape.join(', ')}]`,
      );
    }
  }
}

/**
 * Checks state values that would silently poison every later output: a running variance that
 * is NaN, infinite or negative, a non-finite running mean. Run when state enters from the host
 * (loading a checkpoint, building a layer), not on every step.
 */
export function checkStateValues(state: HostState): void {
  for (const key of ['scale', 'bias', 'runningMean', 'runningVar'] as const) {
    const t = state[key];
    if (t === undefined) continue;
    const problem = hostTensorProblem(t);
    if (problem !== undefined) throw new StateError(key, problem);
  }
  const check = (key: StateTensorKey, t: HostTensor | undefined, allowNegative: boolean) => {
    if (!t) return;
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i]!;
      if (!Number.isFinite(v)) throw new StateError(key, `holds ${v} at index ${i}`);
      if (!allowNegative && v < 0) throw new StateError(key, `holds a negative variance ${v} at index ${i}`);
    }
  };
  check('runningMean', state.runningMean, true);
  check('runningVar', state.runningVar, false);
  if (!Number.isInteger(state.numBatchesTracked) || state.numBatchesTracked < 0) {
    throw new StateError('numBatchesTracked', `must be a non-negative integer, got ${state.numBatchesTracked}`);
  }
}

/**
 * Refuses a feature count above {@link MAX_NUM_FEATURES} before any state of that size is
 * allocated (a constructor argument is not backed by data that would bound it).
 */
export function checkFeatureCountLimit(field: string, count: number): void {
  if (count > MAX_NUM_FEATURES) {
    throw new SpecError(field, count, `exceeds the limit of ${MAX_NUM_FEATURES} features per layer (MAX_NUM_FEATURES); nothing was allocated`);
  }
}

/** The mask must broadcast to the input: same rank, each dim equal or 1 (leading dims may be omitted). */
export function checkMaskShape(spec: BatchNormSpec, inputShape: readonly number[], maskShape: readonly number[]): void {
  if (!spec.masked) throw new SpecError('masked', false, 'a mask was passed but the spec does not allow masks');
  if (maskShape.length > inputShape.length) throw new ShapeError('mask', `at most rank ${inputShape.length}`, maskShape);
  const offset = inputShape.length - maskShape.length;
  maskShape.forEach((d, i) => {
    const want = inputShape[i + offset]!;
    if (d !== want && d !== 1) {
      throw new ShapeError('mask', `a shape broadcastable to [${inputShape.join(', ')}]`, maskShape);
    }
  });
}
