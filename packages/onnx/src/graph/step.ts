/**
 * Forward graphs: a training step (Y, batch_mean, batch_var and, when running statistics are
 * written, running_mean and running_var) and inference (Y). Shared by the engine, which feeds
 * state as inputs, and by `exportOnnxModel`, which bakes it in.
 */
import {
  runningVarianceCorrection,
  statisticsShape,
  updatesRunningStatistics,
  usesBatchStatistics,
  type BatchNormSpec,
  type Layout,
  type StateTensorKey,
} from '@normbridge/core';
import { GraphBuilder, type BuiltModel } from '../proto/builder.js';
import { canonicalize, fromCanonical, toCanonical3, toCanonical4, type Canonical } from './canonical.js';
import { NAMES, readState, type FedValue, type StateSources, type ValueSource } from './io.js';
import type { GraphKind } from './plan.js';
import { runningUpdate, runningVarianceInput } from './running.js';
import { maskWeights, primitiveStatistics } from './statistics.js';

export interface StepGraph {
  readonly op: 'train' | 'eval';
  readonly spec: BatchNormSpec;
  readonly layout: Layout;
  /** A leading replica axis is in use (StepOptions.replicas was given). */
  readonly replicated: boolean;
  /** Compute dtype: inputs of another float type are cast to it. */
  readonly dtype: 'float32' | 'float64';
  readonly kind: GraphKind;
  readonly x: FedValue;
  readonly state: StateSources;
  readonly mask?: (FedValue & { readonly shape: readonly number[] }) | undefined;
  /** The running-average weight `a`, needed when a training step writes running statistics. */
  readonly averageWeight?: ValueSource | undefined;
}

export function buildStepGraph(g: StepGraph): BuiltModel {
  const { spec, layout } = g;
  const b = new GraphBuilder(g.dtype);
  let x = b.input(NAMES.x, g.x.elemType, layout.inputShape);
  if (g.x.elemType !== b.elemType) x = b.op('Cast', [x], { to: b.elemType });
  const state = (key: StateTensorKey) => {
    const src = g.state[key];
    return src ? readState(b, key, src, layout.featureShape) : undefined;
  };
  const scale = state('scale');
  const bias = state('bias');
  const mode = g.op;
  if (!usesBatchStatistics(spec, mode)) {
    b.output(NAMES.y, evalWithRunning(b, g, x, scale, bias, state('runningMean')!, state('runningVar')!));
    return b.build();
  }
  const stats = g.kind === 'batchnorm-node' ? nodeStatistics(b, g, x, scale, bias) : primitiveForward(b, g, x, scale, bias);
  b.output(NAMES.y, stats.y);
  if (mode === 'eval') return b.build();
  const shape = statisticsShape(layout);
  b.output(NAMES.batchMean, b.op('Reshape', [stats.mean, b.ints(shape)]));
  b.output(NAMES.batchVar, b.op('Reshape', [stats.variance, b.ints(shape)]));
  if (updatesRunningStatistics(spec, mode)) {
    const a = weightInput(b, g.averageWeight);
    const batchVar = runningVarianceCorrection(spec) === 0 ? stats.variance : runningVarianceInput(b, spec, stats.variance, stats.count());
    const rm = runningUpdate(b, spec, state('runningMean')!, stats.mean, a);
    const rv = runningUpdate(b, spec, state('runningVar')!, batchVar, a);
    b.output(NAMES.runningMean, b.op('Reshape', [rm, b.ints(shape)]));
    b.output(NAMES.runningVar, b.op('Reshape', [rv, b.ints(shape)]));
  }
  return b.build();
}

interface Forward {
  readonly y: string;
  /** [C] or [R, C]. */
  readonly mean: string;
  readonly variance: string;
  /** Elements per channel, broadcastable to `variance`; built only when the unbiased estimator asks. */
  readonly count: () => string;
}

function weightInput(b: GraphBuilder, src: ValueSource | undefined): string {
  if (!src) throw new Error('internal: a training step that writes running statistics needs an average weight');
  if (src.kind === 'input') return b.input(NAMES.averageWeight, src.elemType, []);
  return b.initializer(NAMES.averageWeight, src.tensor, { asInput: src.overridable });
}

const filled = (b: GraphBuilder, C: number, v: number, tag: string) => b.constant(new Array<number>(C).fill(v), [C], tag);
const perChannel4 = (b: GraphBuilder, c: Canonical, v: string) => b.op('Reshape', [v, b.ints([1, 1, c.C, 1])]);

/**
 * ONNX BatchNormalization in training mode with momentum 0: its "running" outputs are then
 * exactly `0·seed + 1·batch`, the batch mean and biased variance that opset 15 does not output
 * otherwise. The seeds are graph inputs, fed fresh zeros on every call, because ONNX Runtime's
 * CPU kernel aliases running_mean/running_var to input_mean/input_var: the statistics are
 * written into those buffers. A constant there would be overwritten on every run, and one that
 * ORT shares with an equal-valued scale or B would corrupt Y.
 */
function nodeStatistics(b: GraphBuilder, g: StepGraph, x: string, scale?: string, bias?: string): Forward {
  const c = canonicalize(g.layout, false);
  const C = c.C;
  const seeds = [b.input(NAMES.meanSeed, b.elemType, [C]), b.input(NAMES.varSeed, b.elemType, [C])];
  const [y3, mean, variance] = b.opN(
    'BatchNormalization',
    [toCanonical3(b, c, x), scale ?? filled(b, C, 1, 'scale'), bias ?? filled(b, C, 0, 'bias'), ...seeds],
    ['bn_y', 'bn_batch_mean', 'bn_batch_var'],
    { epsilon: { float: g.spec.epsilon }, momentum: { float: 0 }, training_mode: 1 },
  );
  return { y: fromCanonical(b, c, y3!, 3), mean: mean!, variance: variance!, count: () => b.scalar(c.P * c.Q) };
}

function primitiveForward(b: GraphBuilder, g: StepGraph, x: string, scale?: string, bias?: string): Forward {
  const c = canonicalize(g.layout, g.replicated);
  const x4 = toCanonical4(b, c, x);
  const w4 = g.mask ? maskWeights(b, c, b.input(NAMES.mask, g.mask.elemType, g.mask.shape), g.mask.elemType, (v) => toCanonical4(b, c, v)) : undefined;
  const s = primitiveStatistics(b, g.spec, c, x4, w4, g.layout.groups);
  const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [s.variance, b.scalar(g.spec.epsilon)])])]);
  const k = scale ? b.op('Mul', [inv, perChannel4(b, c, scale)]) : inv;
  let y4 = b.op('Mul', [s.centered ?? b.op('Sub', [x4, s.mean]), k]);
  if (bias) y4 = b.op('Add', [y4, perChannel4(b, c, bias)]);
  const flat = (v: string) => b.op('Reshape', [v, b.ints([c.R, c.C])]);
  // The unbiased factor needs the per-replica count before flattening; it broadcasts.
  const count = () => b.op('Reshape', [b.op('Expand', [s.groupCount, b.ints([c.R, 1, c.C, 1])]), b.ints([c.R, c.C])]);
  return { y: fromCanonical(b, c, y4, 4), mean: flat(s.mean), variance: flat(s.variance), count };
}

function evalWithRunning(b: GraphBuilder, g: StepGraph, x: string, scale: string | undefined, bias: string | undefined, rm: string, rv: string): string {
  // Running statistics are shared by every replica: a replica axis is just another reduction axis.
  const c = canonicalize(g.layout, false);
  if (g.kind === 'batchnorm-node') {
    const y3 = b.op('BatchNormalization', [toCanonical3(b, c, x), scale ?? filled(b, c.C, 1, 'scale'), bias ?? filled(b, c.C, 0, 'bias'), rm, rv], {
      epsilon: { float: g.spec.epsilon },
    });
    return fromCanonical(b, c, y3, 3);
  }
  const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [perChannel4(b, c, rv), b.scalar(g.spec.epsilon)])])]);
  const k = scale ? b.op('Mul', [inv, perChannel4(b, c, scale)]) : inv;
  let y4 = b.op('Mul', [b.op('Sub', [toCanonical4(b, c, x), perChannel4(b, c, rm)]), k]);
  if (bias) y4 = b.op('Add', [y4, perChannel4(b, c, bias)]);
  return fromCanonical(b, c, y4, 4);
}
