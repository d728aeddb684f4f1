/**
 * `torch.nn.functional.batch_norm`. PyTorch updates the running buffers in place; engine
 * tensors here are immutable, so the updated buffers are returned instead.
 */
import {
  filled,
  getDefaultEngine,
  hostTensor,
  numel,
  requireSync,
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type HostTensor,
  type TrainOutput,
} from '@normbridge/core';
import { channelCount, checkFeatureCounts, requireForEval, verifyBatchSize } from './checks.js';
import { TorchTypeError } from './errors.js';
import { checkEps, torch, torchSpec, TorchVersion, torchVersionTraits } from '@normbridge/frameworks';
import { checkTrainingEps } from './version.js';

/** Options of {@link batchNorm}, PyTorch's keyword arguments. */
export interface BatchNormFunctionalOptions<T> {
  /**
   * PyTorch `weight` (gamma), shape [C]. Absent: no scaling (as weight 1).
   * @default null
   */
  weight?: T | null;
  /**
   * PyTorch `bias` (beta), shape [C]. Absent: no shift (as bias 0).
   * @default null
   */
  bias?: T | null;
  /**
   * PyTorch `training`: normalise with the batch's statistics (and update the running buffers
   * if given) instead of the running buffers.
   * @default false
   */
  training?: boolean;
  /**
   * PyTorch `momentum`, the weight of the batch statistic in the running update:
   * `running = (1 - momentum) * running + momentum * batch`. A number only, as in
   * `F.batch_norm` (the cumulative `None` form needs a module's counter).
   * @default 0.1
   */
  momentum?: number;
  /**
   * PyTorch `eps`, added to the variance before the square root.
   * @default 1e-5
   */
  eps?: number;
  /**
   * Engine to run on.
   * @default getDefaultEngine() from `@normbridge/core`
   */
  engine?: Engine<T>;
  /**
   * Which PyTorch to reproduce where versions differ (see {@link TorchVersion}).
   * @default '2.13' (the newest)
   */
  version?: TorchVersion;
}

/**
 * What {@link batchNorm} returns. `runningMean` / `runningVar` are present only when they were
 * updated (training with that buffer given): they are **new** tensors holding what PyTorch
 * would have written into the buffers in place. The tensors passed in are neither changed nor
 * disposed; the caller owns both old and new.
 */
export interface BatchNormResult<T> {
  readonly output: T;
  readonly runningMean?: T;
  readonly runningVar?: T;
}

interface Prepared<T> {
  readonly engine: Engine<T>;
  readonly spec: BatchNormSpec;
  readonly state: BatchNormState<T>;
  readonly training: boolean;
  readonly hasMean: boolean;
  readonly hasVar: boolean;
  /** Stand-ins for a buffer that was not given while the other is updated (disposed after). */
  readonly placeholders: T[];
}

function prepare<T>(
  input: T,
  runningMean: T | null | undefined,
  runningVar: T | null | undefined,
  options: BatchNormFunctionalOptions<T>,
): Prepared<T> | { readonly empty: T } {
  const engine = options.engine ?? (getDefaultEngine() as Engine<T>);
  const { weight, bias, training = false, momentum = torch.defaults.momentum, eps = torch.defaults.epsilon } = options;
  if (typeof momentum !== 'number') {
    throw new TorchTypeError(`batch_norm(): argument 'momentum' must be float, not ${momentum === null ? 'NoneType' : typeof momentum}`);
  }
  checkEps(eps);
  const shape = engine.shapeOf(input);
  if (training) verifyBatchSize(shape);
  checkTrainingEps(torchVersionTraits(options.version ?? TorchVersion.latest), eps, training);
  const channels = channelCount(shape);
  // ATen returns an empty output for an empty input before checking or updating anything.
  if (numel(shape) === 0) return { empty: engine.fromHost(hostTensor(shape, new Float32Array(0))) };
  const hasMean = runningMean !== null && runningMean !== undefined;
  const hasVar = runningVar !== null && runningVar !== undefined;
  const hasWeight = weight !== null && weight !== undefined;
  const hasBias = bias !== null && bias !== undefined;
  // ATen's order: running_mean, running_var, weight, bias.
  if (hasMean) checkFeatureCounts(channels, [['running_mean', engine.shapeOf(runningMean)]]);
  else if (!training) requireForEval('running_mean', false);
  if (hasVar) checkFeatureCounts(channels, [['running_var', engine.shapeOf(runningVar)]]);
  else if (!training) requireForEval('running_var', false);
  checkFeatureCounts(channels, [
    ['weight', hasWeight ? engine.shapeOf(weight) : undefined],
    ['bias', hasBias ? engine.shapeOf(bias) : undefined],
  ]);

  const updates = training && (hasMean || hasVar);
  const spec = torchSpec({
    eps,
    momentum,
    scale: hasWeight,
    bias: hasBias,
    updatesRunningStatistics: updates,
    evalUsesBatchStatistics: false,
  });
  // The kernel updates whichever buffer it is given; the engine wants both, so a missing one
  // gets an initial-valued stand-in whose update is thrown away.
  const placeholders: T[] = [];
  const standIn = (value: number): T => {
    const t = engine.fromHost(filled([channels], value));
    placeholders.push(t);
    return t;
  };
  const state: BatchNormState<T> = {
    scale: hasWeight ? weight : undefined,
    bias: hasBias ? bias : undefined,
    runningMean: hasMean ? runningMean : updates ? standIn(0) : undefined,
    runningVar: hasVar ? runningVar : updates ? standIn(1) : undefined,
    numBatchesTracked: 0,
  };
  return { engine, spec, state, training, hasMean, hasVar, placeholders };
}

function finish<T>(p: Prepared<T>, out: TrainOutput<T>): BatchNormResult<T> {
  const { engine } = p;
  engine.dispose(out.batchMean, out.batchVar);
  if (out.state === p.state || out.state.runningMean === p.state.runningMean) {
    engine.dispose(...p.placeholders);
    return { output: out.y };
  }
  const result: { output: T; runningMean?: T; runningVar?: T } = { output: out.y };
  if (p.hasMean) result.runningMean = out.state.runningMean;
  else engine.dispose(out.state.runningMean);
  if (p.hasVar) result.runningVar = out.state.runningVar;
  else engine.dispose(out.state.runningVar);
  engine.dispose(...p.placeholders);
  return result;
}

/**
 * `torch.nn.functional.batch_norm(input, running_mean, running_var, weight=None, bias=None,
 * training=False, momentum=0.1, eps=1e-5)` on a synchronous engine. Channel axis 1, no rank
 * check. Pass `null` for a buffer PyTorch would get `None`.
 *
 * ```ts
 * let rm = ..., rv = ...;
 * const r = batchNorm(x, rm, rv, { training: true });
 * rm = r.runningMean!; rv = r.runningVar!; // what PyTorch updated in place
 * ```
 */
export function batchNorm<T = HostTensor>(
  input: T,
  runningMean: T | null | undefined,
  runningVar: T | null | undefined,
  options: BatchNormFunctionalOptions<T> = {},
): BatchNormResult<T> {
  const engine = requireSync(options.engine ?? (getDefaultEngine() as Engine<T>), 'batchNorm()', 'batchNormAsync()');
  const p = prepare(input, runningMean, runningVar, { ...options, engine });
  if ('empty' in p) return { output: p.empty };
  if (!p.training) return { output: engine.evaluate(p.spec, p.state, input) };
  return finish(p, engine.train(p.spec, p.state, input));
}

/** {@link batchNorm} on any engine. */
export async function batchNormAsync<T = HostTensor>(
  input: T,
  runningMean: T | null | undefined,
  runningVar: T | null | undefined,
  options: BatchNormFunctionalOptions<T> = {},
): Promise<BatchNormResult<T>> {
  const p = prepare(input, runningMean, runningVar, options);
  if ('empty' in p) return { output: p.empty };
  if (!p.training) return { output: await p.engine.evaluate(p.spec, p.state, input) };
  return finish(p, await p.engine.train(p.spec, p.state, input));
}
