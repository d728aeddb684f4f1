/**
 * Cross-API equivalence properties: the same canonical BatchNorm reached through two adapters'
 * PUBLIC APIs gives the same numbers, and different conventions give exactly the documented
 * different numbers. Adapters are compared against each other; the test itself only computes
 * the documented relations (n/(n-1)) and error bounds (see cross-api-tolerance.ts).
 *
 * Engines: the float64 reference (every adapter's default engine, so no `engine` is passed) and
 * `@normbridge/tfjs` on cpu (float32, passed as `engine`). Tolerances are rounding-error bounds
 * in the engine's unit roundoff (about 1e-14 relative on the reference, 1e-5 on float32), not
 * fixed slack; the Keras update-form property also checks training outputs bit for bit.
 *
 * Observed (not asserted): pairs with the same memory layout (torch 1d / flax linen; MLX / NNX /
 * Keras 3) agree bit for bit on both engines, and so does torch 2d / MLX on the reference (it
 * visits a channel's values in the same order in NCHW and NHWC). Differences appear only for
 * torch 2d / MLX on tfjs (reduction order) and between the two Keras update forms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  getDefaultEngine,
  hostTensor,
  isInt64Tensor,
  transpose,
  type CheckpointValue,
  type HostTensor,
  type SyncEngine,
} from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d } from '@normbridge/torch';
import { BatchNorm as MlxBatchNorm } from '@normbridge/mlx';
import { BatchNormalization } from '@normbridge/keras';
import { linen, nnx, random } from '@normbridge/flax';
import { createEngineByName } from '@normbridge/engines';
import {
  Checker,
  U_FLOAT32,
  U_FLOAT64,
  batchBounds,
  channelStats,
  relationTolerance,
  runningBounds,
  updateFormBounds,
  type StatBounds,
} from './cross-api-tolerance.js';

/** Modest: every run trains several layers for up to 3 steps, then evaluates. */
const RUNS = { numRuns: 25 };

// ---------------------------------------------------------------------------------------------
// Engines

interface EngineCase {
  readonly name: string;
  /** Passed to the adapters; undefined = their default engine (the float64 reference). */
  readonly option: SyncEngine<any> | undefined;
  /** The engine the adapters end up on, for uploads and downloads. */
  readonly engine: SyncEngine<any>;
  /** Unit roundoff of the engine's arithmetic. */
  readonly u: number;
}

const defaultEngine = getDefaultEngine() as SyncEngine<any>;
const referenceCase: EngineCase = { name: 'reference-f64 (adapters\' default engine)', option: undefined, engine: defaultEngine, u: U_FLOAT64 };

let tfjsCase: EngineCase | undefined;
let tfjsProblem: unknown;
try {
  const engine = (await createEngineByName('tfjs-cpu')) as SyncEngine<any>;
  tfjsCase = { name: 'tfjs-cpu (float32)', option: engine, engine, u: U_FLOAT32 };
} catch (e) {
  tfjsProblem = e;
}

describe('engines', () => {
  it('the adapters\' default engine is the float64 reference', () => {
    expect(defaultEngine.name).toBe('reference-f64');
  });
  it('tfjs cpu is available', () => {
    if (tfjsProblem !== undefined) throw new Error(`createEngineByName('tfjs-cpu') failed: ${String(tfjsProblem)}`);
    expect(tfjsCase?.engine.name).toBe('tfjs-cpu');
  });
});

const ENGINES: EngineCase[] = tfjsCase ? [referenceCase, tfjsCase] : [referenceCase];

// ---------------------------------------------------------------------------------------------
// Cases

interface Batch {
  /** Input shape: [N, C, ...spatial] (channels first) or [N, ...spatial, C] (channels last). */
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

interface Case {
  readonly channels: number;
  /** PyTorch/MLX momentum (weight of the batch); Flax/Keras get 1 - m. */
  readonly m: number;
  readonly eps: number;
  readonly train: readonly Batch[];
  readonly evaluate: Batch;
}

interface CaseShape {
  /** Numbers of spatial axes allowed (torch BatchNorm2d: exactly 2; channels-last: 0–2). */
  readonly spatialRank: readonly [number, number];
  readonly channelsFirst: boolean;
  /** Smallest number of values per channel (PyTorch / MLX >= 0.32.1 need 2 in training). */
  readonly minPerChannel: number;
}

/**
 * Values `offset + spread * k / 1000`, k an integer in [-1000, 1000]: fast-check's integer bias
 * gives repeated values and constant channels; the offset gives large means over small spreads
 * (the hard case for float32 variances).
 */
function caseArb(shape: CaseShape): fc.Arbitrary<Case> {
  const head = fc.record({
    channels: fc.integer({ min: 1, max: 4 }),
    spatial: fc.integer({ min: shape.spatialRank[0], max: shape.spatialRank[1] }).chain((r) =>
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: r, maxLength: r }),
    ),
    // Edges, a uniform grid, and fast-check's doubles (which favour tiny values).
    m: fc.oneof(
      { arbitrary: fc.constantFrom(0, 0.1, 0.5, 1), weight: 2 },
      { arbitrary: fc.integer({ min: 0, max: 1000 }).map((i) => i / 1000), weight: 2 },
      { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 1 },
    ),
    eps: fc.oneof(fc.constantFrom(1e-5, 1e-3), fc.double({ min: 1e-5, max: 1, noNaN: true })),
    offset: fc.oneof(fc.constant(0), fc.integer({ min: -50_000, max: 50_000 }).map((i) => i / 1000)),
    spread: fc.oneof(fc.constantFrom(1, 10), fc.double({ min: 1e-3, max: 10, noNaN: true })),
    steps: fc.integer({ min: 1, max: 3 }),
  });
  return head.chain((h) => {
    const perSample = h.spatial.reduce((a, b) => a * b, 1);
    const minN = Math.max(1, Math.ceil(shape.minPerChannel / perSample));
    const batch = fc.integer({ min: minN, max: 4 }).chain((n) => {
      const dims = shape.channelsFirst ? [n, h.channels, ...h.spatial] : [n, ...h.spatial, h.channels];
      const size = dims.reduce((a, b) => a * b, 1);
      return fc
        .array(fc.integer({ min: -1000, max: 1000 }), { minLength: size, maxLength: size })
        .map((ks): Batch => ({ shape: dims, data: Float64Array.from(ks, (k) => h.offset + (h.spread * k) / 1000) }));
    });
    return fc.record({ train: fc.array(batch, { minLength: h.steps, maxLength: h.steps }), evaluate: batch }).map(
      (b): Case => ({ channels: h.channels, m: h.m, eps: h.eps, train: b.train, evaluate: b.evaluate }),
    );
  });
}

const TORCH_2D = caseArb({ spatialRank: [2, 2], channelsFirst: true, minPerChannel: 2 });
const TORCH_1D = caseArb({ spatialRank: [0, 1], channelsFirst: true, minPerChannel: 2 });
const CHANNELS_LAST = caseArb({ spatialRank: [0, 2], channelsFirst: false, minPerChannel: 1 });

// ---------------------------------------------------------------------------------------------
// Helpers (host conversion only; no maths)

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];

function host(b: Batch): HostTensor {
  return hostTensor(b.shape, b.data, 'float64');
}

function values(e: EngineCase, t: unknown): Float64Array {
  return Float64Array.from(e.engine.toHost(t).data);
}

function checkpoint(v: CheckpointValue | undefined, what: string): Float64Array {
  if (v === undefined || isInt64Tensor(v)) throw new Error(`${what}: missing or not a float tensor`);
  return Float64Array.from(v.data);
}

/** What the engine computes on: float32 engines see the rounded input. */
function seen(e: EngineCase, b: Batch): Float64Array {
  return e.u === U_FLOAT32 ? Float64Array.from(b.data, Math.fround) : b.data;
}

/** Asserts inside fast-check: every mismatch of a run in one error, so the counterexample says all. */
function run(check: (c: Checker) => void): void {
  const c = new Checker();
  check(c);
  c.throwIfAny();
}

// ---------------------------------------------------------------------------------------------
// 1. The same canonical behaviour through two adapters gives the same numbers.

const ones = (n: number) => new Float64Array(n).fill(1);

describe.each(ENGINES)('equivalences on $name', (e) => {
  const up = (b: Batch) => e.engine.fromHost(host(b));
  // float64 where the engine has it; a float32-only engine refuses dtype float64 (UnsupportedDtypeError).
  const dtype = e.engine.capabilities.dtypes.includes('float64') ? ('float64' as const) : ('float32' as const);

  it('torch BatchNorm2d(C, {momentum: m, eps}) on NCHW ≡ MLX 0.32.1 BatchNorm(C, {momentum: m, eps}) on NHWC', () => {
    fc.assert(
      fc.property(TORCH_2D, (c) =>
        run((check) => {
          const torch = new BatchNorm2d<any>(c.channels, { momentum: c.m, eps: c.eps, dtype, engine: e.option });
          const mlx = new MlxBatchNorm<any>(c.channels, { momentum: c.m, eps: c.eps, version: '0.32.1', engine: e.option });
          const mlxForward = (b: Batch) => transpose(e.engine.toHost(mlx.call(e.engine.fromHost(transpose(host(b), NCHW_TO_NHWC)))), NHWC_TO_NCHW).data;
          let bounds: StatBounds | undefined;
          c.train.forEach((b, step) => {
            const x = seen(e, b);
            const stats = channelStats(x, b.shape, 1);
            const batch = batchBounds(e.u, stats);
            const yTorch = values(e, torch.forward(up(b)));
            check.outputs(`step ${step} y (MLX transposed back)`, mlxForward(b), yTorch, x, stats, batch, c.eps, e.u);
            const sd = torch.stateDict();
            const w = Object.fromEntries(mlx.saveWeights());
            const rm = checkpoint(sd['running_mean'], 'running_mean');
            const rv = checkpoint(sd['running_var'], 'running_var');
            bounds = runningBounds(e.u, bounds, stats, batch, 'unbiased', rm, rv);
            check.close(`step ${step} running_mean`, checkpoint(w['running_mean'], 'mlx running_mean'), rm, bounds.mean);
            check.close(`step ${step} running_var`, checkpoint(w['running_var'], 'mlx running_var'), rv, bounds.var);
          });
          torch.eval();
          mlx.eval();
          const b = c.evaluate;
          const yTorch = values(e, torch.forward(up(b)));
          check.evalOutputs('eval y (MLX transposed back)', mlxForward(b), yTorch, seen(e, b), b.shape, 1, bounds!.lastMean, bounds!.lastVar, bounds!, c.eps, e.u);
        }),
      ),
      RUNS,
    );
  });

  it('torch BatchNorm1d(momentum m) ≡ flax linen BatchNorm(axis 1, momentum 1 - m, useFastVariance false): outputs and running mean; running var once its batch part is rescaled by n/(n-1)', () => {
    fc.assert(
      fc.property(TORCH_1D, (c) =>
        run((check) => {
          const a = 1 - c.m;
          const engine = e.option;
          const torch = new BatchNorm1d<any>(c.channels, { momentum: c.m, eps: c.eps, dtype, engine });
          const flax = new linen.BatchNorm({ axis: 1, momentum: a, epsilon: c.eps, useFastVariance: false });
          let vars = flax.init(random.key(0), up(c.train[0]!), { useRunningAverage: false, engine });
          let torchBefore: Float64Array = ones(c.channels);
          let flaxBefore: Float64Array = ones(c.channels);
          let bounds: StatBounds | undefined;
          c.train.forEach((b, step) => {
            const x = seen(e, b);
            const stats = channelStats(x, b.shape, 1);
            const batch = batchBounds(e.u, stats);
            const yTorch = values(e, torch.forward(up(b)));
            const [yFlax, updates] = flax.apply(vars, up(b), { useRunningAverage: false, mutable: ['batch_stats'], engine });
            vars = { ...vars, ...updates };
            check.outputs(`step ${step} y`, values(e, yFlax), yTorch, x, stats, batch, c.eps, e.u);
            const sd = torch.stateDict();
            const rm = checkpoint(sd['running_mean'], 'running_mean');
            const rv = checkpoint(sd['running_var'], 'running_var');
            const flaxStats = updates['batch_stats'] as Record<string, unknown>;
            const flaxVar = values(e, flaxStats['var']);
            const before = bounds;
            bounds = runningBounds(e.u, bounds, stats, batch, 'unbiased', rm, rv);
            check.close(`step ${step} running mean`, values(e, flaxStats['mean']), rm, bounds.mean);
            // One step of each: torch_k - a·torch_{k-1} = (flax_k - a·flax_{k-1})·n/(n-1).
            const n = stats.count;
            const tb = torchBefore;
            const fb = flaxBefore;
            check.relation(
              `step ${step} running var: torch_k - a·torch_{k-1} vs (flax_k - a·flax_{k-1})·n/(n-1)`,
              rv.map((t, i) => t - a * tb[i]!),
              flaxVar.map((f, i) => (f - a * fb[i]!) * (n / (n - 1))),
              relationTolerance(bounds, before, n),
            );
            torchBefore = rv;
            flaxBefore = flaxVar;
          });
          // Eval: torch normalises with its unbiased running var. Flax has no unbiased option and
          // no spec override (linenSpec is fixed), so flax is handed torch's running var as its own.
          torch.eval();
          const b = c.evaluate;
          const yTorch = values(e, torch.forward(up(b)));
          const flaxStats = vars['batch_stats'] as Record<string, unknown>;
          const torchVar = e.engine.fromHost(hostTensor([c.channels], torchBefore, 'float64'));
          const yFlax = flax.apply({ ...vars, batch_stats: { ...flaxStats, var: torchVar } }, up(b), { useRunningAverage: true, engine });
          check.evalOutputs('eval y (flax given torch\'s running var)', values(e, yFlax), yTorch, seen(e, b), b.shape, 1, bounds!.lastMean, bounds!.lastVar, bounds!, c.eps, e.u);
        }),
      ),
      RUNS,
    );
  });

  it('MLX 0.32.0 BatchNorm(momentum m) ≡ flax nnx BatchNorm(momentum 1 - m, useFastVariance false) ≡ Keras 3 BatchNormalization(momentum 1 - m, epsilon eps)', () => {
    fc.assert(
      fc.property(CHANNELS_LAST, (c) =>
        run((check) => {
          const a = 1 - c.m;
          const mlx = new MlxBatchNorm<any>(c.channels, { momentum: c.m, eps: c.eps, version: '0.32.0', engine: e.option });
          const flax = new nnx.BatchNorm(c.channels, { momentum: a, epsilon: c.eps, useFastVariance: false, rngs: new nnx.Rngs(0), engine: e.option });
          const keras = new BatchNormalization<any>({ momentum: a, epsilon: c.eps, profile: 'keras3', engine: e.option });
          let bounds: StatBounds | undefined;
          c.train.forEach((b, step) => {
            const x = seen(e, b);
            const stats = channelStats(x, b.shape, b.shape.length - 1);
            const batch = batchBounds(e.u, stats);
            const yMlx = values(e, mlx.call(up(b)));
            check.outputs(`step ${step} y nnx vs mlx`, values(e, flax.call(up(b))), yMlx, x, stats, batch, c.eps, e.u);
            check.outputs(`step ${step} y keras vs mlx`, values(e, keras.apply(up(b), { training: true })), yMlx, x, stats, batch, c.eps, e.u);
            const w = Object.fromEntries(mlx.saveWeights());
            const rm = checkpoint(w['running_mean'], 'mlx running_mean');
            const rv = checkpoint(w['running_var'], 'mlx running_var');
            const [, , movingMean, movingVar] = keras.getWeights();
            bounds = runningBounds(e.u, bounds, stats, batch, 'biased', rm, rv);
            check.close(`step ${step} nnx mean`, values(e, flax.mean.value), rm, bounds.mean);
            check.close(`step ${step} nnx var`, values(e, flax.var.value), rv, bounds.var);
            check.close(`step ${step} keras moving_mean`, checkpoint(movingMean, 'moving_mean'), rm, bounds.mean);
            check.close(`step ${step} keras moving_variance`, checkpoint(movingVar, 'moving_variance'), rv, bounds.var);
          });
          mlx.eval();
          flax.eval();
          const b = c.evaluate;
          const axis = b.shape.length - 1;
          const yMlx = values(e, mlx.call(up(b)));
          check.evalOutputs('eval y nnx vs mlx', values(e, flax.call(up(b))), yMlx, seen(e, b), b.shape, axis, bounds!.lastMean, bounds!.lastVar, bounds!, c.eps, e.u);
          check.evalOutputs('eval y keras vs mlx', values(e, keras.apply(up(b))), yMlx, seen(e, b), b.shape, axis, bounds!.lastMean, bounds!.lastVar, bounds!, c.eps, e.u);
        }),
      ),
      RUNS,
    );
  });

  it('Keras tfjs-layers profile ≡ keras3 profile: training outputs bit-equal, moving statistics within the rounding of the two update forms', () => {
    fc.assert(
      fc.property(CHANNELS_LAST, (c) =>
        run((check) => {
          const decay = 1 - c.m;
          const keras3 = new BatchNormalization<any>({ momentum: decay, epsilon: c.eps, profile: 'keras3', engine: e.option });
          const tfjsLayers = new BatchNormalization<any>({ momentum: decay, epsilon: c.eps, profile: 'tfjs-layers', engine: e.option });
          let bounds: StatBounds | undefined;
          c.train.forEach((b, step) => {
            const stats = channelStats(seen(e, b), b.shape, b.shape.length - 1);
            const y3 = values(e, keras3.apply(up(b), { training: true }));
            // The update form only touches the moving statistics: same batch statistics, same output.
            check.identical(`step ${step} training y`, values(e, tfjsLayers.apply(up(b), { training: true })), y3);
            const [, , mean3, var3] = keras3.getWeights();
            const [, , meanL, varL] = tfjsLayers.getWeights();
            const rm = checkpoint(mean3, 'keras3 moving_mean');
            const rv = checkpoint(var3, 'keras3 moving_variance');
            bounds = updateFormBounds(e.u, bounds, stats, rm, rv);
            check.close(`step ${step} moving_mean`, checkpoint(meanL, 'tfjs-layers moving_mean'), rm, bounds.mean);
            check.close(`step ${step} moving_variance`, checkpoint(varL, 'tfjs-layers moving_variance'), rv, bounds.var);
          });
          const b = c.evaluate;
          const y3 = values(e, keras3.apply(up(b)));
          check.evalOutputs('inference y', values(e, tfjsLayers.apply(up(b))), y3, seen(e, b), b.shape, b.shape.length - 1, bounds!.lastMean, bounds!.lastVar, bounds!, c.eps, e.u);
        }),
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Different conventions give the documented different numbers (one step from fresh state).

describe.each(ENGINES)('documented differences on $name', (e) => {
  const dtype = e.engine.capabilities.dtypes.includes('float64') ? ('float64' as const) : ('float32' as const);
  const up = (b: Batch) => e.engine.fromHost(host(b));

  /** Runs where the n/(n-1) difference is well above the tolerance somewhere: the property is not vacuous. */
  const visible = { torchFlax: 0, mlxVersions: 0 };
  const noteVisible = (diff: ArrayLike<number>, tol: ArrayLike<number>) => Array.from(diff).some((d, i) => Math.abs(d) > 4 * tol[i]!);

  it('torch (momentum m) vs flax linen (momentum 1 - m, two-pass): (torch_var - (1-m)) = (flax_var - (1-m))·n/(n-1); means and outputs equal', () => {
    fc.assert(
      fc.property(TORCH_1D, (c) =>
        run((check) => {
          const a = 1 - c.m;
          const b = c.train[0]!;
          const x = seen(e, b);
          const stats = channelStats(x, b.shape, 1);
          const n = stats.count;
          const engine = e.option;
          const torch = new BatchNorm1d<any>(c.channels, { momentum: c.m, eps: c.eps, dtype, engine });
          const flax = new linen.BatchNorm({ axis: 1, momentum: a, epsilon: c.eps, useFastVariance: false, useRunningAverage: false });
          const vars = flax.init(random.key(0), up(b), { engine });
          const yTorch = values(e, torch.forward(up(b)));
          const [yFlax, updates] = flax.apply(vars, up(b), { mutable: ['batch_stats'], engine });
          const sd = torch.stateDict();
          const torchMean = checkpoint(sd['running_mean'], 'running_mean');
          const torchVar = checkpoint(sd['running_var'], 'running_var');
          const flaxStats = updates['batch_stats'] as Record<string, unknown>;
          const flaxVar = values(e, flaxStats['var']);
          const batch = batchBounds(e.u, stats);
          const bounds = runningBounds(e.u, undefined, stats, batch, 'unbiased', torchMean, torchVar);
          check.outputs('y', values(e, yFlax), yTorch, x, stats, batch, c.eps, e.u);
          check.close('running mean', values(e, flaxStats['mean']), torchMean, bounds.mean);
          const tol = relationTolerance(bounds, undefined, n);
          check.relation('(torch_var - (1-m)) vs (flax_var - (1-m))·n/(n-1)', torchVar.map((t) => t - a), flaxVar.map((f) => (f - a) * (n / (n - 1))), tol);
          if (noteVisible(torchVar.map((t, i) => t - flaxVar[i]!), tol)) visible.torchFlax++;
        }),
      ),
      RUNS,
    );
    expect(visible.torchFlax, 'runs where torch and flax running variances visibly differ').toBeGreaterThan(2);
  });

  it('MLX 0.32.0 vs 0.32.1 (same momentum m): (v_0.32.1 - (1-m)) = (v_0.32.0 - (1-m))·n/(n-1); means and outputs equal', () => {
    fc.assert(
      fc.property(CHANNELS_LAST.filter((c) => c.train[0]!.data.length / c.channels >= 2), (c) =>
        run((check) => {
          const a = 1 - c.m;
          const b = c.train[0]!;
          const x = seen(e, b);
          const stats = channelStats(x, b.shape, b.shape.length - 1);
          const n = stats.count;
          const biased = new MlxBatchNorm<any>(c.channels, { momentum: c.m, eps: c.eps, version: '0.32.0', engine: e.option });
          const unbiased = new MlxBatchNorm<any>(c.channels, { momentum: c.m, eps: c.eps, version: '0.32.1', engine: e.option });
          const y0 = values(e, biased.call(up(b)));
          const y1 = values(e, unbiased.call(up(b)));
          const w0 = Object.fromEntries(biased.saveWeights());
          const w1 = Object.fromEntries(unbiased.saveWeights());
          const m0 = checkpoint(w0['running_mean'], '0.32.0 running_mean');
          const v0 = checkpoint(w0['running_var'], '0.32.0 running_var');
          const v1 = checkpoint(w1['running_var'], '0.32.1 running_var');
          const batch = batchBounds(e.u, stats);
          const bounds = runningBounds(e.u, undefined, stats, batch, 'unbiased', m0, v1);
          check.outputs('y', y1, y0, x, stats, batch, c.eps, e.u);
          check.close('running_mean', checkpoint(w1['running_mean'], '0.32.1 running_mean'), m0, bounds.mean);
          const tol = relationTolerance(bounds, undefined, n);
          check.relation('(v_0.32.1 - (1-m)) vs (v_0.32.0 - (1-m))·n/(n-1)', v1.map((v) => v - a), v0.map((v) => (v - a) * (n / (n - 1))), tol);
          if (noteVisible(v1.map((v, i) => v - v0[i]!), tol)) visible.mlxVersions++;
        }),
      ),
      RUNS,
    );
    expect(visible.mlxVersions, 'runs where the two MLX versions\' running variances visibly differ').toBeGreaterThan(2);
  });
});
