/**
 * Bridges between any engine and TF.js autodiff: differentiable ops over a synchronous engine
 * on tf tensors (forward by the engine, backward by its `vjp`), and a host engine (the float64
 * reference) seen through tf tensors. Plumbing only; every number comes from the wrapped engine.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  hostTensor,
  mapStateTensors,
  type BatchNormSpec,
  type BatchNormState,
  type HostTensor,
  type Mode,
  type StepOptions,
  type SyncEngine,
  type TrainOutput,
} from '@normbridge/core';
import { uploadTensor } from './host.js';
import { isTfTensor, reshapeTensor, tensorRow } from './tensor-ops.js';

/**
 * A differentiable BatchNorm on TF.js tensors: `train` returns the output and the new state
 * (running statistics outside the gradient), `evaluate` the output; `tf.grad` flows through
 * both to the input and the affine parameters.
 */
export interface DifferentiableOps {
  train(spec: BatchNormSpec, state: BatchNormState<tf.Tensor>, x: tf.Tensor, options?: StepOptions<tf.Tensor>): TrainOutput<tf.Tensor>;
  evaluate(spec: BatchNormSpec, state: BatchNormState<tf.Tensor>, x: tf.Tensor, options?: StepOptions<tf.Tensor>): tf.Tensor;
}

/** tf.keep the running statistics a call created (not those it passed through). */
export function keepNew(next: BatchNormState<tf.Tensor>, prev: BatchNormState<tf.Tensor>): void {
  if (next.runningMean && next.runningMean !== prev.runningMean) tf.keep(next.runningMean);
  if (next.runningVar && next.runningVar !== prev.runningVar) tf.keep(next.runningVar);
}

const fallbackOps = new WeakMap<object, DifferentiableOps>();

/**
 * A differentiable op over any synchronous engine on tf tensors: the forward pass is
 * `engine.train`/`engine.evaluate`, the backward pass `engine.vjp`.
 */
export function customGradOps(engine: SyncEngine<tf.Tensor>): DifferentiableOps {
  let ops = fallbackOps.get(engine);
  if (ops) return ops;
  const call = (spec: BatchNormSpec, state: BatchNormState<tf.Tensor>, x: tf.Tensor, mode: Mode, options: StepOptions<tf.Tensor>) => {
    let next: BatchNormState<tf.Tensor> = state;
    let batch: tf.Tensor[] = [];
    const inputs: tf.Tensor[] = [x];
    if (state.scale) inputs.push(state.scale);
    if (state.bias) inputs.push(state.bias);
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xx = args[0] as tf.Tensor;
      let k = 1;
      const scale = state.scale ? (args[k++] as tf.Tensor) : undefined;
      const bias = state.bias ? (args[k++] as tf.Tensor) : undefined;
      const st: BatchNormState<tf.Tensor> = { ...state, scale, bias };
      let y: tf.Tensor;
      if (mode === 'eval') {
        y = engine.evaluate(spec, st, xx, options);
      } else {
        const out = engine.train(spec, st, xx, options);
        y = out.y;
        // The forward pass runs inside a tf.tidy: keep the new statistics alive past it.
        keepNew(out.state, state);
        batch = [tf.keep(out.batchMean), tf.keep(out.batchVar)];
        next = { ...out.state, scale: state.scale, bias: state.bias };
      }
      // tf.grad disposes the forward pass's tensors before backprop: save what the backward
      // pass reads (x, the affine parameters, the mask, and in eval the running statistics).
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const evalStats = mode === 'eval' ? [state.runningMean, state.runningVar] : [];
      const saved = [xx, scale, bias, options.mask, ...evalStats];
      save(saved.filter((t): t is tf.Tensor => t !== undefined));
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], kept: tf.Tensor[]) => {
          const it = kept[Symbol.iterator]();
          const [sx, sScale, sBias, sMask, sMean, sVar] = saved.map((t) => (t === undefined ? undefined : (it.next().value as tf.Tensor)));
          // The backward pass needs only the affine parameters (and, in eval, the running statistics).
          const gradSpec: BatchNormSpec = mode === 'train' ? { ...spec, runningAverage: { kind: 'none' } } : spec;
          const gradState: BatchNormState<tf.Tensor> =
            mode === 'train'
              ? { scale: sScale, bias: sBias, numBatchesTracked: state.numBatchesTracked }
              : { scale: sScale, bias: sBias, runningMean: sMean, runningVar: sVar, numBatchesTracked: state.numBatchesTracked };
          const g = engine.vjp(gradSpec, gradState, sx!, dy as tf.Tensor, mode, { ...options, mask: sMask });
          const grads: tf.Tensor[] = [g.dx];
          if (scale) grads.push(g.dScale ?? tf.zerosLike(scale));
          if (bias) grads.push(g.dBias ?? tf.zerosLike(bias));
          return grads;
        },
      };
    });
    const y = op(...inputs);
    return { y, state: next, batchMean: batch[0]!, batchVar: batch[1]! };
  };
  ops = {
    train: (spec, state, x, options = {}) => call(spec, state, x, 'train', options),
    evaluate: (spec, state, x, options = {}) => call(spec, state, x, 'eval', options).y,
  };
  fallbackOps.set(engine, ops);
  return ops;
}

/**
 * A host engine (the float64 reference) seen through tf tensors: inputs are downloaded, the
 * host engine computes, results are uploaded as float32 tensors. Lets a TF.js model (Dense,
 * relu, a loss) run its BatchNorm on the reference, gradients included: `train` and
 * `evaluate` are differentiable ops ({@link customGradOps} over the host engine's `vjp`), as
 * those of `createTfjsEngine` are.
 */
export function hostEngineOnTf(host: SyncEngine<HostTensor>): SyncEngine<tf.Tensor> {
  const plain = plainHostEngineOnTf(host);
  const ops = customGradOps(plain);
  return { ...plain, train: ops.train, evaluate: ops.evaluate };
}

/** {@link hostEngineOnTf} without the custom gradients: every call downloads, computes, uploads. */
function plainHostEngineOnTf(host: SyncEngine<HostTensor>): SyncEngine<tf.Tensor> {
  const down = (t: tf.Tensor): HostTensor => hostTensor(t.shape, Float32Array.from(t.dataSync()), 'float32');
  const up = (t: HostTensor): tf.Tensor => uploadTensor(t);
  const downOpt = (t: tf.Tensor | undefined) => (t === undefined ? undefined : down(t));
  const upOpt = (t: HostTensor | undefined) => (t === undefined ? undefined : up(t));
  const downState = (s: BatchNormState<tf.Tensor>) => mapStateTensors(s, down);
  const upState = (s: BatchNormState<HostTensor>) => mapStateTensors(s, up);
  const downOptions = (o: StepOptions<tf.Tensor> | undefined): StepOptions<HostTensor> => ({
    mask: downOpt(o?.mask),
    replicas: o?.replicas,
  });
  return {
    name: `${host.name}-on-tf`,
    synchronous: true,
    capabilities: host.capabilities,
    supports: (spec, mode, shape, options) => host.supports(spec, mode, shape, options),
    fromHost: up,
    toHost: down,
    shapeOf: (t) => t.shape,
    owns: isTfTensor,
    reshape: reshapeTensor,
    row: tensorRow,
    stateFromHost: (s) => upState(host.stateFromHost(s)),
    dispose: (...ts) => {
      for (const t of ts) if (t && !t.isDisposed) t.dispose();
    },
    retain: (t) => tf.keep(t),
    train(spec, state, x, options) {
      const out = host.train(spec, downState(state), down(x), downOptions(options));
      return { y: up(out.y), batchMean: up(out.batchMean), batchVar: up(out.batchVar), state: upState(out.state) };
    },
    evaluate: (spec, state, x, options) => up(host.evaluate(spec, downState(state), down(x), downOptions(options))),
    vjp(spec, state, x, dy, mode, options) {
      const g = host.vjp(spec, downState(state), down(x), down(dy), mode, downOptions(options));
      return { dx: up(g.dx), dScale: upOpt(g.dScale), dBias: upOpt(g.dBias) };
    },
  };
}
