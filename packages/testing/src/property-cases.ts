import fc from 'fast-check';
import {
  channelIndex,
  defineSpec,
  resolveLayout,
  stridesOf,
  type BatchNormSpec,
  type BatchNormSpecInput,
  type HostState,
  type HostTensor,
  type Layout,
  type ReplicaOptions,
} from '@normbridge/core';
import { normals, seededRandom } from './random.js';

/** One randomly drawn call: spec, shapes, data and state, all on the host. */
export interface Case {
  readonly spec: BatchNormSpec;
  readonly replicas: ReplicaOptions | undefined;
  readonly layout: Layout;
  readonly x: HostTensor;
  readonly dy: HostTensor;
  readonly mask: HostTensor | undefined;
  readonly state: HostState;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const runningAverageArb = fc.oneof(
  fc.record({ kind: fc.constant('exponential' as const), oldValueWeight: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.constant({ kind: 'cumulative' as const }),
  fc.constant({ kind: 'none' as const }),
);

const specOptionsArb = fc.record({
  epsilon: fc.constantFrom(1e-5, 1e-3, 0.1),
  runningAverage: runningAverageArb,
  runningVarianceEstimator: fc.constantFrom('biased' as const, 'unbiased' as const),
  varianceAlgorithm: fc.constantFrom('two-pass' as const, 'one-pass-clamped' as const, 'one-pass-unclamped' as const),
  scale: fc.boolean(),
  bias: fc.boolean(),
  evalStatistics: fc.constantFrom('running' as const, 'batch' as const),
  runningUpdateForm: fc.constantFrom('blend' as const, 'decay-toward' as const),
  replicaCombination: fc.constantFrom('count-weighted' as const, 'unweighted-mean' as const),
  masked: fc.boolean(),
});

/** Rank 1–5, sizes 1–4, one or several feature axes in any order, each written ±. */
const sampleArb = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axes: fc.shuffledSubarray(range(shape.length), { minLength: 1 }),
      negative: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
    }),
  )
  .map(({ shape, axes, negative }) => ({
    shape,
    featureAxes: axes.map((a) => (negative[a] ? a - shape.length : a)),
  }));

/** A replica count with a random partition into groups (undefined: one group of all). */
const replicasArb = fc.option(
  fc.integer({ min: 1, max: 3 }).chain((r) =>
    fc.record({
      count: fc.constant(r),
      labels: fc.option(fc.array(fc.integer({ min: 0, max: r - 1 }), { minLength: r, maxLength: r })),
    }),
  ),
  { nil: undefined },
);

/** Keep each axis of the mask or broadcast it (size 1); drop some leading axes. */
const maskArb = fc.record({
  pass: fc.boolean(),
  keep: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  drop: fc.integer({ min: 0, max: 6 }),
});

export const caseArb: fc.Arbitrary<Case> = fc
  .record({
    sample: sampleArb,
    options: specOptionsArb,
    replicas: replicasArb,
    mask: maskArb,
    numBatchesTracked: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .map(({ sample, options, replicas, mask, numBatchesTracked, seed }) => {
    const input: BatchNormSpecInput = { ...options, featureAxes: sample.featureAxes };
    return buildCase(defineSpec(input), sample.shape, replicas, mask, numBatchesTracked, seed);
  })
  // A channel with no unmasked position has no statistics: its mean is NaN in the reference
  // and in the engine (so are the output and the running mean), while the variance is 0 in
  // the reference (an empty weighted sum) and NaN here. Nothing meaningful to compare.
  .filter((c) => !hasEmptyChannel(c));

/**
 * Rank 2–5, sizes 1–4, the feature axes one consecutive run that ends before the last axis
 * (NCHW's [1], or [1, 2] of a rank-4 input), in any order, each written ±: the layouts that
 * a backend may run through the rows view `[outer, channels·inner]`.
 */
const consecutiveSampleArb = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 5 })
  .chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 2 }).chain((start) =>
      fc.record({
        shape: fc.constant(shape),
        axes: fc
          .integer({ min: 1, max: shape.length - 1 - start })
          .chain((length) => fc.shuffledSubarray(range(length).map((i) => start + i), { minLength: length })),
        negative: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      }),
    ),
  )
  .map(({ shape, axes, negative }) => ({
    shape,
    featureAxes: axes.map((a) => (negative[a] ? a - shape.length : a)),
  }));

const NO_MASK = { pass: false, keep: [], drop: 0 };

/**
 * Cases whose features are consecutive but not trailing, with no mask (a mask sends the
 * statistics down the weighted path whatever the layout); replicas may still be present.
 */
export const consecutiveCaseArb: fc.Arbitrary<Case> = fc
  .record({
    sample: consecutiveSampleArb,
    options: specOptionsArb,
    replicas: replicasArb,
    numBatchesTracked: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .map(({ sample, options, replicas, numBatchesTracked, seed }) => {
    const input: BatchNormSpecInput = { ...options, featureAxes: sample.featureAxes };
    return buildCase(defineSpec(input), sample.shape, replicas, NO_MASK, numBatchesTracked, seed);
  });

function buildCase(
  spec: BatchNormSpec,
  sampleShape: number[],
  replicas: { count: number; labels: number[] | null } | undefined,
  mask: { pass: boolean; keep: boolean[]; drop: number },
  numBatchesTracked: number,
  seed: number,
): Case {
  const replicaOptions = replicas === undefined ? undefined : { groups: groupsFromLabels(replicas.labels) };
  const shape = replicas === undefined ? sampleShape : [replicas.count, ...sampleShape];
  const layout = resolveLayout(spec, shape, replicaOptions);
  const rand = seededRandom(seed);
  const channels = layout.channels;
  const feature = (center: number, spread: number): HostTensor => ({
    shape: [...layout.featureShape],
    data: Float32Array.from({ length: channels }, () => center + spread * (2 * rand() - 1)),
    dtype: 'float32',
  });
  const state: HostState = {
    scale: spec.scale ? feature(1, 1) : undefined,
    bias: spec.bias ? feature(0, 1) : undefined,
    runningMean: feature(0, 1),
    runningVar: feature(1.25, 0.75),
    numBatchesTracked,
  };
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    spec,
    replicas: replicaOptions,
    layout,
    x: { shape, data: spreadData(layout, rand), dtype: 'float32' },
    dy: { shape, data: Float32Array.from(normals(size, seed ^ 0x5bd1e995)), dtype: 'float32' },
    mask: spec.masked && mask.pass ? maskFor(shape, mask, rand) : undefined,
    state,
  };
}

function groupsFromLabels(labels: number[] | null): number[][] | undefined {
  if (labels === null) return undefined;
  const groups = new Map<number, number[]>();
  labels.forEach((label, replica) => groups.set(label, [...(groups.get(label) ?? []), replica]));
  return [...groups.values()];
}

/**
 * Per replica group and channel, mean in [-1, 1] and spread in [0.5, 1.5]: the values are a
 * shuffled set of evenly spaced points, so a channel's statistics never rest on a few nearly
 * equal values by chance (which would make any float32 result ill-conditioned, one-pass
 * variance above all).
 */
function spreadData(layout: Layout, rand: () => number): Float32Array {
  const sample = layout.channels * layout.perChannel;
  const chan = channelIndex(layout);
  const out = new Float32Array(sample * layout.replicas);
  for (const group of layout.groups) {
    const positions: number[][] = Array.from({ length: layout.channels }, () => []);
    for (const r of group) for (let i = 0; i < sample; i++) positions[chan[i]!]!.push(r * sample + i);
    for (const members of positions) {
      const mean = 2 * rand() - 1;
      const spread = 0.5 + rand();
      const n = members.length;
      const points = members.map((_, k) => (n === 1 ? 0 : -1.7 + (3.4 * k) / (n - 1)));
      for (let k = n - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [points[k], points[j]] = [points[j]!, points[k]!];
      }
      members.forEach((p, k) => (out[p] = mean + spread * points[k]!));
    }
  }
  return out;
}

/** Whether some replica has a channel whose every position is masked out. */
export function hasEmptyChannel(c: Case): boolean {
  if (c.mask === undefined) return false;
  const { layout, mask } = c;
  const shape = layout.inputShape;
  const strides = stridesOf(shape);
  const maskStrides = stridesOf(mask.shape);
  const offset = shape.length - mask.shape.length;
  const chan = channelIndex(layout);
  const sample = chan.length;
  const counts = new Float64Array(layout.replicas * layout.channels);
  for (let i = 0; i < sample * layout.replicas; i++) {
    let m = 0;
    for (let ax = offset; ax < shape.length; ax++) {
      if (mask.shape[ax - offset] === 1) continue;
      m += (Math.floor(i / strides[ax]!) % shape[ax]!) * maskStrides[ax - offset]!;
    }
    if (mask.data[m] !== 0) counts[Math.floor(i / sample) * layout.channels + chan[i % sample]!]!++;
  }
  return counts.some((n) => n === 0);
}

function maskFor(shape: number[], choice: { keep: boolean[]; drop: number }, rand: () => number): HostTensor {
  const kept = shape.map((d, i) => (choice.keep[i] ? d : 1));
  const maskShape = kept.slice(Math.min(choice.drop, shape.length - 1));
  const size = maskShape.reduce((a, b) => a * b, 1);
  return { shape: maskShape, data: Float32Array.from({ length: size }, () => (rand() < 0.75 ? 1 : 0)), dtype: 'float32' };
}
