import { getDefaultEngine, setDefaultEngine, type CheckpointValue, type Engine, type HostTensor, type SyncEngine } from '@normbridge/core';
import { linen, nnx, random, treeLeaves, type Tree } from '@normbridge/flax';
import { flax as training } from '@normbridge/training';
import { hostEngineOnTf } from '@normbridge/tfjs';
import type { LoadedModelFixture } from '../model-fixture-load.js';
import type { ModelProgramName } from '../model-fixture-schema.js';
import type { ModelBinding, ModelStepOutcome } from './model-types.js';
import { NotApplicable, toHost } from './types.js';

/** A fixture tensor as a float host tensor (integer labels and counters become float values). */
function hostOf(fixture: LoadedModelFixture, name: string): HostTensor {
  const t = fixture.tensors.get(name)!;
  if (t.dtype !== 'int64') return t;
  return { shape: [...t.shape], data: Float32Array.from(t.data, Number), dtype: 'float32' };
}

/** Fixture paths under `prefix/` as a nested tree, each leaf made by `leaf`. */
function treeFrom<L>(map: Readonly<Record<string, string>>, prefix: string, leaf: (name: string) => L): Tree<L> {
  const out: Tree<L> = {};
  for (const [path, name] of Object.entries(map)) {
    if (!path.startsWith(`${prefix}/`)) continue;
    const keys = path.slice(prefix.length + 1).split('/');
    let node = out;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Tree<L>;
    node[keys[keys.length - 1]!] = leaf(name);
  }
  return out;
}

/** A tree's leaves as host tensors under `prefix/…` paths. */
async function flatten(engine: Engine<any>, prefix: string, tree: Tree<unknown>, out: Record<string, CheckpointValue>): Promise<void> {
  for (const [path, leaf] of treeLeaves(tree)) out[[prefix, ...path].join('/')] = await toHost(engine, leaf);
}

const scalar = (v: number): HostTensor => ({ shape: [], data: Float64Array.of(v), dtype: 'float64' });

/**
 * The guide's TypeScript port computes with TF.js ops (Dense, relu, the loss, `tf.valueAndGrads`)
 * around the BatchNorm, so it runs where BatchNorm tensors are tf.Tensors: the tfjs engines, and
 * the float64 reference seen through TF.js (`hostEngineOnTf`, BatchNorm in float64).
 */
async function tfEngineFor(engine: Engine<any>): Promise<SyncEngine<any>> {
  if (engine.name.startsWith('tfjs-')) {
    if (engine.synchronous) return engine as SyncEngine<any>;
    // The port's training step is synchronous TF.js (tf.valueAndGrads around the BatchNorm).
    throw new NotApplicable(`the Flax training port runs synchronous TF.js steps; ${engine.name} reads back asynchronously`);
  }
  if (engine.name === 'reference-f64' && engine.synchronous) {
    // TF.js must have a backend (and its gradients) for the ops around the BatchNorm: its CPU one.
    const { createTfjsEngine } = await import('@normbridge/tfjs');
    await createTfjsEngine('cpu');
    return hostEngineOnTf(engine as SyncEngine<HostTensor>);
  }
  throw new NotApplicable(
    `the Flax training port (Dense, relu, loss and gradients in TF.js around the BatchNorm) needs tf.Tensor values; ${engine.name} is not a TF.js engine`,
  );
}

/** Runs `f` with `engine` as core's default engine (the guide's modules take no engine argument). */
function withDefault<R>(engine: Engine<any>, f: () => R): R {
  const previous = getDefaultEngine();
  setDefaultEngine(engine);
  try {
    return f();
  } finally {
    setDefaultEngine(previous);
  }
}

/**
 * A TF.js scope for one model case: the programs' ports compute with TF.js ops (activations,
 * gradients, optimizer updates, reshapes) that no engine call makes, so the case frees them
 * all at its end, as the runner frees what the engine made (GPU buffers on a GPU backend).
 */
async function tfScope(): Promise<() => void> {
  const tf = await import('@tensorflow/tfjs-core');
  tf.engine().startScope();
  return () => tf.engine().endScope();
}

/** Every tensor a guide TrainState holds: params, batch statistics, optimizer moments. */
function stateLeaves(state: { params: unknown; batchStats: unknown; optState: unknown }): unknown[] {
  const trees = [state.params, state.batchStats];
  const opt = state.optState as Record<string, unknown> | undefined;
  for (const key of ['mu', 'nu', 'trace']) if (opt?.[key]) trees.push(opt[key]);
  return trees.flatMap((t) => treeLeaves(t as Tree<unknown>).map(([, leaf]) => leaf));
}

/** The Flax batch-norm guide: MLP + TrainState(batch_stats) + train_step / eval_step with optax.adam. */
const flaxGuide: ModelBinding = {
  program: 'flax-guide-train-state',
  async open(fixture, anyEngine) {
    const engine = await tfEngineFor(anyEngine);
    const endScope = await tfScope();
    const { config } = fixture.manifest.program;
    const optimizer = config['optimizer'] as { name?: string; learning_rate?: number; momentum?: number };
    const init = fixture.manifest.initialState;
    const up = (name: string) => engine.fromHost(hostOf(fixture, name));
    const lr = optimizer.learning_rate;
    if (typeof lr !== 'number') throw new NotApplicable(`optimizer ${JSON.stringify(optimizer)} has no learning_rate`);
    // optax's state tuple, element 0: ScaleByAdamState(count, mu, nu) or TraceState(trace).
    let tx: training.GradientTransformation<any>;
    let optState: unknown;
    if (optimizer.name === 'adam') {
      tx = training.adam(lr);
      optState = { count: hostOf(fixture, init['opt_state/0/count']!).data[0]!, mu: treeFrom(init, 'opt_state/0/mu', up), nu: treeFrom(init, 'opt_state/0/nu', up) };
    } else if (optimizer.name === 'sgd' && typeof optimizer.momentum === 'number') {
      tx = training.sgd(lr, optimizer.momentum);
      optState = { trace: treeFrom(init, 'opt_state/0/trace', up) };
    } else {
      throw new NotApplicable(`optimizer ${JSON.stringify(optimizer)} has no port (adam, sgd with momentum have)`);
    }
    const mlp = new training.MLP({ outFeatures: config['out_features'] as number, momentum: config['momentum'] as number });
    let state = training.TrainState.create({
      applyFn: mlp.apply.bind(mlp),
      params: treeFrom(init, 'params', up) as Tree<any>,
      batchStats: treeFrom(init, 'batch_stats', up),
      tx,
    });
    // The recorded optimizer state and step (what TrainState.create gives, as the fixture records it).
    state = state.replace({ step: hostOf(fixture, init['step']!).data[0]!, optState });
    return {
      async step(step): Promise<ModelStepOutcome> {
        const batch = { image: up(step.inputs['image']!), label: up(step.inputs['label']!) };
        const [next, metrics] = withDefault(engine, () => (step.method === 'train_step' ? training.trainStep(state, batch) : training.evalStep(state, batch)));
        // The BatchNorm's new running statistics are tf.keep-ed (they outlive a tidy), so the
        // scope would not free the ones a later step replaces: freed here.
        const live = new Set(stateLeaves(next));
        for (const t of stateLeaves(state)) if (!live.has(t)) (t as { dispose?: () => void }).dispose?.();
        state = next;
        const out: Record<string, CheckpointValue> = { step: scalar(state.step) };
        await flatten(engine, 'params', state.params, out);
        await flatten(engine, 'batch_stats', state.batchStats, out);
        const opt = state.optState as Partial<training.AdamState & training.SgdState>;
        if (opt.count !== undefined) out['opt_state/0/count'] = scalar(opt.count);
        for (const key of ['mu', 'nu', 'trace'] as const) if (opt[key]) await flatten(engine, `opt_state/0/${key}`, opt[key], out);
        const outputs = {
          loss: await toHost(engine, metrics.loss),
          accuracy: await toHost(engine, metrics.accuracy),
          logits: await toHost(engine, metrics.logits),
        };
        // valueAndGrad tf.keep-s its auxiliary outputs (the logits) past its gradient scope.
        for (const t of [metrics.loss, metrics.accuracy, metrics.logits]) t.dispose();
        return { outputs, state: out };
      },
      dispose() {
        for (const t of stateLeaves(state)) (t as { dispose?: () => void }).dispose?.();
        endScope();
      },
    };
  },
};

/** The NNX write-up's BatchNorm(nnx.Module), called directly, switched by `.eval()` / `.train()`. */
const nnxWriteup: ModelBinding = {
  program: 'nnx-writeup-batchnorm',
  async open(fixture, engine) {
    const endScope = await tfScope();
    const { config } = fixture.manifest.program;
    const init = fixture.manifest.initialState;
    const bn = new nnx.WriteupBatchNorm<any>(config['n_features'] as number, { eps: config['eps'] as number, momentum: config['momentum'] as number, engine });
    const names = ['gamma', 'beta', 'moving_mean', 'moving_var'] as const;
    for (const n of names) bn[n].value = engine.fromHost(hostOf(fixture, init[n]!));
    return {
      async step(step): Promise<ModelStepOutcome> {
        const via = (step.call as { via?: string } | undefined)?.via;
        if (via === 'model.eval()') bn.eval();
        else if (via === 'model.train()') bn.train();
        else if (via !== undefined) throw new NotApplicable(`statement ${via} has no port`);
        const y = await toHost(engine, await bn.callAsync(engine.fromHost(hostOf(fixture, step.inputs['x_bhwc']!))));
        const state: Record<string, CheckpointValue> = {};
        for (const n of names) state[n] = await toHost(engine, bn[n].value);
        return { outputs: { y }, state };
      },
      dispose: endScope,
    };
  },
};

/** The linen docstring: `BN.init(key, x)`, `BN.apply(vars, x, mutable=['batch_stats'])`, eval with a second BatchNorm. */
const linenDocstring: ModelBinding = {
  program: 'linen-docstring-usage',
  async open(fixture, engine) {
    const endScope = await tfScope();
    const c = fixture.manifest.program.config as { momentum: number; epsilon: number; dtype: string };
    const fields = { momentum: c.momentum, epsilon: c.epsilon, dtype: c.dtype as linen.BatchNormFields['dtype'] };
    const BN = new linen.BatchNorm<any>({ ...fields, useRunningAverage: false });
    let variables: linen.Variables = {};
    const flat = async (): Promise<Record<string, CheckpointValue>> => {
      const out: Record<string, CheckpointValue> = {};
      for (const col of ['params', 'batch_stats']) await flatten(engine, col, (variables[col] ?? {}) as Tree<unknown>, out);
      return out;
    };
    return {
      async step(step): Promise<ModelStepOutcome> {
        const x = engine.fromHost(hostOf(fixture, step.inputs['x']!));
        const call = (step.call ?? {}) as { key?: number; mutable?: string[]; use_running_average?: boolean };
        if (step.method === 'init') {
          variables = await BN.initAsync(random.key(call.key ?? 0), x, { engine });
          return { outputs: {}, state: await flat() };
        }
        if (call.use_running_average === true) {
          const BNEval = new linen.BatchNorm<any>({ ...fields, useRunningAverage: true });
          const y = await BNEval.applyAsync(variables, x, { engine });
          return { outputs: { y: await toHost(engine, y) }, state: await flat() };
        }
        const [y, mutated] = await BN.applyAsync(variables, x, { mutable: call.mutable ?? ['batch_stats'], engine });
        variables = { ...variables, batch_stats: mutated['batch_stats']! };
        return { outputs: { y: await toHost(engine, y) }, state: await flat() };
      },
      dispose: endScope,
    };
  },
};

const MODEL_BINDINGS: Record<ModelProgramName, ModelBinding> = {
  'flax-guide-train-state': flaxGuide,
  'nnx-writeup-batchnorm': nnxWriteup,
  'linen-docstring-usage': linenDocstring,
};

export function modelBindingFor(program: ModelProgramName): ModelBinding {
  return MODEL_BINDINGS[program];
}
