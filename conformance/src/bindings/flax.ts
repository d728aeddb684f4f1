import { linen, nn, nnx, pmap, random } from '@normbridge/flax';
import { StateError, type Engine, type HostTensor } from '@normbridge/core';
import type { LoadedFixture } from '../fixture-load.js';
import type { FixtureStep } from '../fixture-schema.js';
import { errorOutcome, floatTensor, givenLayer, NotApplicable, toHost, type FrameworkBinding, type StepOutcome } from './types.js';

/**
 * Flax fixtures drive `@normbridge/flax` as `fixtures/generators/flax_fixtures.py` drives Flax:
 * linen through `Module.init`/`init_with_output`/`apply`, NNX through the stateful layer, legacy
 * `flax.nn` through `nn.BatchNorm` inside `nn.stateful`. Gradients come from the adapter's
 * `jax.vjp`-shaped helpers, at the state before the step (as the generator takes `jax.vjp`).
 * Every engine runs through the adapter's async variants (`initWithOutputAsync`, `applyAsync`,
 * `callAsync`, `nn.statefulAsync`, `vjpAsync`, …), which on a synchronous engine give exactly
 * what the synchronous calls give, so that one path serves TF.js, the reference and ONNX Runtime.
 */

/**
 * Flax's own error classes (`flax.errors.*`) end every message with a link to their
 * documentation page; the adapter mirrors that, while oracle fixtures record the message as read
 * from the source, without it. The link carries no information beyond the class name (which is
 * compared on its own), so it is stripped on both sides.
 */
const FLAX_ERROR_LINK = / \(https:\/\/flax\.readthedocs\.io\/[^\s)]*#flax\.errors\.[A-Za-z]+\)$/;
const normalizeMessage = (message: string) => message.replace(FLAX_ERROR_LINK, '');

type ArgTable = Readonly<Record<string, string>>;

/** Constructor arguments shared by linen and NNX (`flax/linen/normalization.py`, `flax/nnx/nn/normalization.py`). */
const MODERN_ARGS: ArgTable = {
  use_running_average: 'useRunningAverage',
  axis: 'axis',
  momentum: 'momentum',
  epsilon: 'epsilon',
  dtype: 'dtype',
  param_dtype: 'paramDtype',
  use_bias: 'useBias',
  use_scale: 'useScale',
  axis_name: 'axisName',
  axis_index_groups: 'axisIndexGroups',
  use_fast_variance: 'useFastVariance',
};
const LINEN_ARGS: ArgTable = { ...MODERN_ARGS, force_float32_reductions: 'forceFloat32Reductions' };
/** NNX's `num_features` and `rngs` are read separately. */
const NNX_ARGS: ArgTable = MODERN_ARGS;
/** Legacy `flax.nn.BatchNorm` keyword arguments (`use_running_average` is a call argument there). */
const LEGACY_ARGS: ArgTable = {
  axis: 'axis',
  momentum: 'momentum',
  epsilon: 'epsilon',
  dtype: 'dtype',
  bias: 'bias',
  scale: 'scale',
  axis_name: 'axisName',
  axis_index_groups: 'axisIndexGroups',
};

/**
 * Flax's snake_case arguments in the adapter's camelCase. Dtypes written with their module
 * (`jnp.float32`) become the bare name the adapter takes. Initializers and anything else that
 * JSON cannot carry as a value have no translation.
 */
function camelArgs(args: Readonly<Record<string, unknown>>, table: ArgTable, what: string, skip: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (skip.includes(key)) continue;
    const name = table[key];
    if (name === undefined) throw new NotApplicable(`${what} argument "${key}" has no translation to @normbridge/flax`);
    out[name] = key.endsWith('dtype') && typeof value === 'string' ? value.replace(/^(jax\.numpy|jnp|numpy|np)\./, '') : value;
  }
  return out;
}

/** Fixture state (`params/scale`, `batch_stats/mean`, …) split into collections of host tensors, as fed to `engine`. */
function collections(fixture: LoadedFixture, map: Readonly<Record<string, string>>): Record<string, Record<string, HostTensor>> {
  const out: Record<string, Record<string, HostTensor>> = {};
  for (const [key, name] of Object.entries(map)) {
    const [col, variable] = key.split('/') as [string, string];
    (out[col] ??= {})[variable] = floatTensor(fixture, name);
  }
  return out;
}

/** The inputs of one step on the engine: `x`, and the mask and the cotangent where the step has them. */
function stepInputs(fixture: LoadedFixture, engine: Engine<any>, step: FixtureStep) {
  return {
    x: engine.fromHost(floatTensor(fixture, step.input)),
    mask: step.mask === undefined ? undefined : engine.fromHost(floatTensor(fixture, step.mask)),
    dy: step.cotangent !== undefined && engine.capabilities.gradients ? engine.fromHost(floatTensor(fixture, step.cotangent)) : undefined,
  };
}

/** Host copies of named engine tensors, skipping absent ones. */
async function hostAll(engine: Engine<any>, named: Record<string, unknown>): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(named)) if (t !== undefined && t !== null) out[k] = await toHost(engine, t);
  return out;
}

const profile = (m: { framework: { name: string; version: string } }) => `${m.framework.name} ${m.framework.version}`;

// ---------------------------------------------------------------------------------- linen

/** A linen step's `call`: apply keyword arguments plus how the generator called the module. */
interface LinenCall {
  readonly use_running_average?: boolean;
  /** `apply(..., mutable=…)`: Flax's CollectionFilter. */
  readonly mutable?: boolean | string | readonly string[];
  /** `init` = `Module.init_with_output(PRNGKey(0), x, …)` instead of `apply`. */
  readonly method?: 'init';
  /** Collections left out of the variables passed to `apply`. */
  readonly omit_collections?: readonly string[];
  /** `jax.pmap(apply, axis_name=…)` over the input's leading (device) axis, variables replicated. */
  readonly pmap?: { readonly axis_name: string };
}

/**
 * A pmapped step holds its variables replicated, one copy per device on a leading axis; the
 * adapter's `pmap` emulation shares one copy between replicas and returns the training
 * statistics stacked per replica. Replica 0 of each variable, when every replica holds the same
 * values (else the step cannot be replayed: n/a).
 */
function unreplicateHost(host: HostTensor, replicas: number, name: string): HostTensor {
  const size = host.data.length / replicas;
  const first = host.data.subarray(0, size);
  for (let r = 1; r < replicas; r++) {
    const copy = host.data.subarray(r * size, (r + 1) * size);
    if (copy.some((v, i) => !Object.is(v, first[i]))) {
      throw new NotApplicable(`${name} differs between replicas: the adapter's pmap emulation holds one copy of the variables for every replica`);
    }
  }
  return { ...host, shape: host.shape.slice(1), data: host.data.slice(0, size) };
}

async function unreplicate(engine: Engine<any>, variables: linen.Variables, replicas: number): Promise<linen.Variables> {
  const out: linen.Variables = {};
  for (const [col, vars] of Object.entries(variables)) {
    out[col] = {};
    for (const [k, t] of Object.entries(vars as Record<string, unknown>)) {
      out[col]![k] = engine.fromHost(unreplicateHost(await toHost(engine, t), replicas, `${col}/${k}`));
    }
  }
  return out;
}

/** A variable shared by every replica, stacked `replicas` times as a pmapped step returns it. */
function replicate(t: HostTensor, replicas: number): HostTensor {
  const data = new (t.data.constructor as Float32ArrayConstructor)(t.data.length * replicas);
  for (let r = 0; r < replicas; r++) data.set(t.data, r * t.data.length);
  return { ...t, shape: [replicas, ...t.shape], data };
}

export const flaxLinenBinding: FrameworkBinding = {
  framework: 'flax-linen',
  profile,
  normalizeMessage,
  async open(fixture, engine, given?: unknown) {
    const { layer, initialState } = fixture.manifest;
    if (layer.class !== 'BatchNorm') throw new NotApplicable(`no adapter for flax.linen.${layer.class}`);
    const bn: linen.BatchNorm<any> =
      givenLayer<linen.BatchNorm<any>>(given, linen.BatchNorm, 'a flax.linen.BatchNorm') ??
      new linen.BatchNorm<any>(camelArgs(layer.args, LINEN_ARGS, 'flax.linen.BatchNorm') as linen.BatchNormFields);
    // `{params: {scale, bias}, batch_stats: {mean, var}}` of a top-level module, on the engine.
    const upload = (map: Readonly<Record<string, string>>): linen.Variables => {
      const out: linen.Variables = {};
      for (const [col, vars] of Object.entries(collections(fixture, map))) {
        out[col] = Object.fromEntries(Object.entries(vars).map(([k, t]) => [k, engine.fromHost(t)]));
      }
      return out;
    };
    let variables = upload(initialState);
    return {
      async step(step): Promise<StepOutcome> {
        if (step.stateBefore) variables = upload(step.stateBefore);
        const call = step.call as LinenCall;
        const { x, mask, dy } = stepInputs(fixture, engine, step);
        const kwargs = {
          ...(call.use_running_average !== undefined ? { useRunningAverage: call.use_running_average } : {}),
          ...(mask !== undefined ? { mask } : {}),
          engine,
        };
        const omitted = new Set(call.omit_collections ?? []);
        const replicas = call.pmap ? engine.shapeOf(x)[0]! : 1;
        const kept = Object.fromEntries(Object.entries(variables).filter(([col]) => !omitted.has(col)));
        const passed = call.pmap ? await unreplicate(engine, kept, replicas) : kept;
        const inPmap = <R>(fn: () => R): R => (call.pmap ? pmap(fn, { axisName: call.pmap.axis_name })() : fn());
        const mutable = call.mutable ?? false;
        try {
          // jax.vjp of the step's own apply, at the variables it was given.
          let gradients: Record<string, HostTensor> | undefined;
          if (dy !== undefined && call.method !== 'init') {
            const g = await inPmap(() => bn.vjpAsync(passed, x, dy, { ...kwargs, ...(mutable !== false ? { mutable } : {}) }));
            // Under pmap JAX's parameter gradients are per device; the fixture records the input's only.
            const params = call.pmap ? {} : { 'params/scale': g.params.scale, 'params/bias': g.params.bias };
            gradients = await hostAll(engine, { input: g.input, ...params });
          }
          let y: unknown;
          if (call.method === 'init') {
            [y, variables] = await bn.initWithOutputAsync(random.key(0), x, kwargs);
          } else if (mutable !== false) {
            const [out, updates] = await inPmap(() => bn.applyAsync(passed, x, { ...kwargs, mutable }));
            y = out;
            variables = { ...(call.pmap ? passed : variables), ...updates };
          } else {
            y = await inPmap(() => bn.applyAsync(passed, x, kwargs));
            if (call.pmap) variables = passed;
          }
          const state: Record<string, HostTensor> = {};
          for (const col of ['params', 'batch_stats']) {
            for (const [k, v] of Object.entries(variables[col] ?? {})) state[`${col}/${k}`] = await toHost(engine, v);
          }
          if (call.pmap) {
            // Back to the pmapped form: every variable replicated on the device axis (stacked statistics already are).
            const fixtureRank = engine.shapeOf(x).length - 1;
            for (const [key, t] of Object.entries(state)) if (t.shape.length < fixtureRank) state[key] = replicate(t, replicas);
            variables = {};
            for (const [key, t] of Object.entries(state)) {
              const [col, k] = key.split('/') as [string, string];
              (variables[col] ??= {})[k] = engine.fromHost(t);
            }
          }
          return { kind: 'ok', output: await toHost(engine, y), state, ...(gradients ? { gradients } : {}) };
        } catch (err) {
          return errorOutcome(err);
        }
      },
      dispose: () => {},
    };
  },
};

// ---------------------------------------------------------------------------------- nnx

/** An NNX step's `call`: call keyword arguments, plus a statement run first. */
interface NnxCall {
  readonly use_running_average?: boolean;
  readonly via?: 'layer.train()' | 'layer.eval()';
  /** `jax.pmap` of split/merge/call over the input's leading (device) axis, state replicated. */
  readonly pmap?: { readonly axis_name: string };
}

const NNX_VARIABLES = ['scale', 'bias', 'mean', 'var'] as const;
type NnxVariable = (typeof NNX_VARIABLES)[number];

/** `rngs` as the generator prints it: `nnx.Rngs(0)`. */
function nnxRngs(value: unknown): nnx.Rngs {
  if (value === undefined) return new nnx.Rngs(0);
  const m = typeof value === 'string' ? /^nnx\.Rngs\((\d+)\)$/.exec(value) : null;
  if (!m) throw new NotApplicable(`nnx.BatchNorm rngs=${JSON.stringify(value)} has no translation (expected "nnx.Rngs(<seed>)")`);
  return new nnx.Rngs(Number(m[1]));
}

export const flaxNnxBinding: FrameworkBinding = {
  framework: 'flax-nnx',
  profile,
  normalizeMessage,
  async open(fixture, anyEngine, given?: unknown) {
    const { layer, initialState } = fixture.manifest;
    if (layer.class !== 'BatchNorm') throw new NotApplicable(`no adapter for flax.nnx.${layer.class}`);
    const a = layer.args as Record<string, unknown>;
    const bn: nnx.BatchNorm<any> =
      givenLayer<nnx.BatchNorm<any>>(given, nnx.BatchNorm, 'a flax.nnx.BatchNorm') ??
      new nnx.BatchNorm<any>(a['num_features'] as number, {
        ...(camelArgs(a, NNX_ARGS, 'nnx.BatchNorm', ['num_features', 'rngs']) as Omit<nnx.BatchNormOptions, 'rngs'>),
        rngs: nnxRngs(a['rngs']),
        engine: anyEngine,
      });
    // A user's layer computes on its own engine (the runner passes that one).
    const engine = bn.engine;
    // A pmapped fixture holds the state replicated on a leading device axis; the layer holds one copy.
    const firstPmap = fixture.manifest.steps.find((s) => (s.call as NnxCall).pmap !== undefined);
    const replicas = firstPmap ? floatTensor(fixture, firstPmap.input).shape[0]! : 1;
    const load = (map: Readonly<Record<string, string>>) => {
      for (const [k, name] of Object.entries(map)) {
        const v = bn[k as NnxVariable];
        // A user's layer built without this variable (use_scale=False, …) cannot take the fixture's state.
        if (!v) throw new StateError(k, "is not a variable of this layer, but the fixture's layer has it");
        const host = floatTensor(fixture, name);
        v.value = engine.fromHost(firstPmap ? unreplicateHost(host, replicas, k) : host);
      }
    };
    load(initialState);
    return {
      async step(step): Promise<StepOutcome> {
        const call = step.call as NnxCall;
        if (call.via === 'layer.eval()') bn.eval();
        else if (call.via === 'layer.train()') bn.train();
        else if (call.via !== undefined) throw new NotApplicable(`call.via ${JSON.stringify(call.via)} has no translation`);
        if (step.stateBefore) load(step.stateBefore);
        const { x, mask, dy } = stepInputs(fixture, engine, step);
        const args = {
          ...(call.use_running_average !== undefined ? { useRunningAverage: call.use_running_average } : {}),
          ...(mask !== undefined ? { mask } : {}),
        };
        const inPmap = <R>(fn: () => R): R => (call.pmap ? pmap(fn, { axisName: call.pmap.axis_name })() : fn());
        try {
          // jax.vjp of a copy of the layer before the step, as the generator takes it.
          let gradients: Record<string, HostTensor> | undefined;
          if (dy !== undefined) {
            const g = await inPmap(() => bn.vjpAsync(x, dy, args));
            // Under pmap JAX's parameter gradients are per device; the fixture records the input's only.
            gradients = await hostAll(engine, call.pmap ? { input: g.input } : { ...g });
          }
          const output = await toHost(engine, await inPmap(() => bn.callAsync(x, args)));
          const state = await hostAll(engine, Object.fromEntries(NNX_VARIABLES.map((k) => [k, bn[k]?.value])));
          if (call.pmap) {
            // Replicated as the pmapped state is (statistics come back stacked); the layer keeps one copy.
            const stackedRank = engine.shapeOf(x).length - 1;
            for (const [k, t] of Object.entries(state)) {
              const stacked = t.shape.length === stackedRank ? t : replicate(t, replicas);
              state[k] = stacked;
              bn[k as NnxVariable]!.value = engine.fromHost(unreplicateHost(stacked, replicas, k));
            }
          }
          return { kind: 'ok', output, state, ...(gradients ? { gradients } : {}) };
        } catch (err) {
          if (err instanceof NotApplicable) throw err;
          return errorOutcome(err);
        }
      },
      dispose: () => {},
    };
  },
};

// ---------------------------------------------------------------------------------- legacy flax.nn

/** A legacy step's `call`: the call argument and the `with` statement around it. */
interface LegacyCall {
  readonly use_running_average?: boolean;
  readonly context?: 'nn.stateful(state)' | 'nn.stateful(state, mutable=False)' | 'none';
}

/** The state collection key of a top-level module (legacy paths: `'/'`, `'/BatchNorm_1'`, …). */
const ROOT = '/';

export const flaxLegacyBinding: FrameworkBinding = {
  framework: 'flax-legacy',
  profile,
  normalizeMessage,
  async open(fixture, engine, given?: unknown) {
    const { layer, initialState } = fixture.manifest;
    if (layer.class !== 'BatchNorm') throw new NotApplicable(`no adapter for flax.nn.${layer.class}`);
    // Legacy flax.nn modules are functions applied to parameters and a state collection; there
    // is no layer object a user could pass.
    if (given !== undefined) throw new NotApplicable('legacy flax.nn has no layer objects; fixtures replay through nn.BatchNorm');
    const kw = camelArgs(layer.args, LEGACY_ARGS, 'flax.nn.BatchNorm') as nn.BatchNormKwargs;
    let params: Record<string, unknown> = {};
    let state = new nn.Collection();
    const load = (map: Readonly<Record<string, string>>) => {
      const cols = collections(fixture, map);
      const up = (vars: Record<string, HostTensor> = {}) =>
        Object.fromEntries(Object.entries(vars).map(([k, t]) => [k, engine.fromHost(t)]));
      params = up(cols['params']);
      // The top-level BatchNorm's state lives under its path, '/'; a fixture without statistics has none.
      state = new nn.Collection(cols['state'] ? { [ROOT]: up(cols['state']) } : {});
    };
    load(initialState);
    /** Runs `fn` as `call.context` says (`nn.statefulAsync` for `nn.stateful`); returns its result and the state after. */
    const inContext = async <R>(context: LegacyCall['context'], fn: () => Promise<R>): Promise<[R, nn.Collection]> => {
      switch (context ?? 'nn.stateful(state)') {
        case 'nn.stateful(state)':
          return nn.statefulAsync(state, fn);
        case 'nn.stateful(state, mutable=False)':
          return [(await nn.statefulAsync(state, fn, { mutable: false }))[0], state];
        case 'none':
          return [await fn(), state];
        default:
          throw new NotApplicable(`call.context ${JSON.stringify(context)} has no translation`);
      }
    };
    return {
      async step(step): Promise<StepOutcome> {
        if (step.stateBefore) load(step.stateBefore);
        const call = step.call as LegacyCall;
        const { x, dy } = stepInputs(fixture, engine, step);
        const kwargs = { ...kw, useRunningAverage: call.use_running_average ?? false, engine };
        try {
          let gradients: Record<string, HostTensor> | undefined;
          if (dy !== undefined) {
            const [g] = await inContext(call.context, () => nn.batchNormVjpAsync(params, x, dy, kwargs));
            gradients = await hostAll(engine, { input: g.input, 'params/scale': g.params.scale, 'params/bias': g.params.bias });
          }
          const [y, after] = await inContext(call.context, () => nn.BatchNorm.callAsync(params, x, kwargs));
          state = after;
          const named: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(params)) named[`params/${k}`] = v;
          for (const [k, v] of Object.entries(state.get(ROOT) ?? {})) named[`state/${k}`] = v;
          return { kind: 'ok', output: await toHost(engine, y), state: await hostAll(engine, named), ...(gradients ? { gradients } : {}) };
        } catch (err) {
          return errorOutcome(err);
        }
      },
      dispose: () => {},
    };
  },
};
