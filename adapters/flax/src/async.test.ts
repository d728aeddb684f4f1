/**
 * The async variants (linen `initWithOutputAsync`/`applyAsync`/`vjpAsync`/`Scope.childAsync`,
 * NNX `callAsync`/`vjpAsync`, legacy `nn.statefulAsync` + `nn.BatchNorm.initAsync`/`callAsync`,
 * `nn.batchNormVjpAsync`) share every step but the engine call with the synchronous ones. Each
 * scenario below is run through both APIs and recorded as a transcript (values, or the error's
 * Python type and message), and the transcripts must be equal:
 *
 * - on every synchronous engine (reference, reference bridged to tf, tfjs cpu/wasm), the async
 *   path gives exactly what the sync path gives, TF.js tensors included;
 * - on asynchronous engines — the reference behind `asAsyncEngine`, and the reference on
 *   `BoxTensor`s (a foreign tensor type shaped like ONNX Runtime's, disposed on replacement) —
 *   the async path gives exactly what the sync path gives on the reference.
 *
 * The conformance suite runs the same async paths on ort-node and ort-web-wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, hostTensor, UnsupportedError, type Engine } from '@normbridge/core';
import { isEngineLeaf, isLeaf } from './leaf.js';
import { linen, nn, nnx, random, type Tree } from './index.js';
import { asyncReference, boxedAsyncReference, BoxTensor, engineCases, X43 } from './test-support/engines.js';

const syncCases = await engineCases();
const reference = createReferenceEngine();
const asyncEngines = [asyncReference(), boxedAsyncReference()];
const KEY = random.key(0);

type Api = 'sync' | 'async';

/** Host values of every leaf in a result (tensors, tuples, variable trees, vjp results). */
async function plain(engine: Engine<any>, v: unknown): Promise<unknown> {
  if (isLeaf(v)) return Array.from((await engine.toHost(v)).data);
  if (Array.isArray(v)) return Promise.all(v.map((e) => plain(engine, e)));
  if (v instanceof nn.Collection) return plain(engine, v.asDict());
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = await plain(engine, (v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** Records one step: its values, or the error as Flax names it. */
function recorder(engine: Engine<any>) {
  const transcript: unknown[] = [];
  const record = async (label: string, fn: () => unknown): Promise<any> => {
    try {
      const value = await fn();
      transcript.push([label, await plain(engine, value)]);
      return value;
    } catch (e) {
      const err = e as Error & { pythonType?: string };
      transcript.push([label, 'raised', err.pythonType ?? err.name, err.message]);
      return undefined;
    }
  };
  return { transcript, record };
}

/** Row-major values on an engine (float64 on host engines, float32 on tf ones). */
const up = (engine: Engine<any>, shape: readonly number[], data: readonly number[]) => engine.fromHost(hostTensor(shape, Float64Array.from(data)));

const X = (engine: Engine<any>) => up(engine, [4, 3], X43);
const X2 = (engine: Engine<any>) => up(engine, [4, 3], X43.map((v, i) => v * 0.5 - i / 7));
const MASK = (engine: Engine<any>) => up(engine, [4, 1], [1, 1, 0, 1]);
const DY = (engine: Engine<any>) => up(engine, [4, 3], X43.map((v, i) => Math.sin(i) + v / 10));

// ------------------------------------------------------------------------------------- linen

async function linenTranscript(engine: Engine<any>, api: Api): Promise<unknown[]> {
  const { transcript, record } = recorder(engine);
  const bn = new linen.BatchNorm({ momentum: 0.9 });
  type Options = linen.BatchNormCallArgs & linen.ApplyOptions;
  const initWithOutput = (m: linen.BatchNorm, x: unknown, o: Options) =>
    api === 'sync' ? m.initWithOutput(KEY, x, o) : m.initWithOutputAsync(KEY, x, o);
  const apply = (m: linen.BatchNorm, vars: linen.Variables, x: unknown, o: Options) =>
    api === 'sync' ? m.apply(vars, x, o) : m.applyAsync(vars, x, o);
  const vjp = (m: linen.BatchNorm, vars: linen.Variables, x: unknown, dy: unknown, o: Options) =>
    api === 'sync' ? m.vjp(vars, x, dy, o) : m.vjpAsync(vars, x, dy, o);

  const [, vars] = (await record('init', () => initWithOutput(bn, X(engine), { useRunningAverage: false, engine }))) as [unknown, linen.Variables];
  const train: Options = { useRunningAverage: false, mutable: ['batch_stats'], engine };
  const [, updates] = (await record('train', () => apply(bn, vars, X(engine), train))) as [unknown, linen.Variables];
  const trained = { ...vars, ...updates };
  await record('train again', () => apply(bn, trained, X2(engine), train));
  await record('eval', () => apply(bn, trained, X(engine), { useRunningAverage: true, engine }));
  await record('masked train', () => apply(bn, trained, X(engine), { ...train, mask: MASK(engine) }));
  await record('vjp train', () => vjp(bn, trained, X(engine), DY(engine), train));
  await record('vjp eval', () => vjp(bn, trained, X(engine), DY(engine), { useRunningAverage: true, engine }));
  const noAffine = new linen.BatchNorm({ useScale: false, useBias: false, useFastVariance: false });
  const [, plainVars] = (await record('init no affine', () => initWithOutput(noAffine, X(engine), { useRunningAverage: true, engine }))) as [unknown, linen.Variables];
  await record('vjp no affine', () => vjp(noAffine, plainVars, X(engine), DY(engine), train));
  const multi = new linen.BatchNorm({ axis: [1, 2], useRunningAverage: false });
  const x3 = () => up(engine, [2, 3, 2], X43);
  const [, multiVars] = (await record('init multi-axis', () => initWithOutput(multi, x3(), { engine }))) as [unknown, linen.Variables];
  await record('train multi-axis', () => apply(multi, multiVars, x3(), { mutable: ['batch_stats'], engine }));

  // Errors: Flax's, in Flax's order, whichever path.
  await record('use_running_average missing', () => apply(new linen.BatchNorm(), trained, X(engine), { engine }));
  await record('use_running_average twice', () => apply(new linen.BatchNorm({ useRunningAverage: true }), trained, X(engine), { useRunningAverage: true, engine }));
  await record('batch_stats immutable', () => apply(bn, trained, X(engine), { useRunningAverage: false, engine }));
  await record('batch_stats missing', () => apply(bn, { params: trained['params']! }, X(engine), { useRunningAverage: true, engine }));
  await record('params of another shape', () => apply(bn, trained, up(engine, [3, 4], X43), { useRunningAverage: true, engine }));
  await record('params nested in params', () => apply(bn, { params: { params: trained['params']! } }, X(engine), { useRunningAverage: true, engine }));
  await record('integer dtype', () => apply(new linen.BatchNorm({ dtype: 'int32' }), trained, X(engine), train));
  await record('vjp without mutable', () => vjp(bn, trained, X(engine), DY(engine), { useRunningAverage: false, engine }));
  await record('vjp use_running_average missing', () => vjp(new linen.BatchNorm(), trained, X(engine), DY(engine), { engine }));
  return transcript;
}

/** Two BatchNorms composed in a compact module: `child` in `call`, `childAsync` in `callAsync`. */
class TwoNorms extends linen.Module<any, { train: boolean }, any> {
  call(scope: linen.Scope, x: any, kw: { train: boolean } = { train: true }): any {
    const y = scope.child(new linen.BatchNorm({ momentum: 0.9 }))(x, { useRunningAverage: !kw.train });
    return scope.child(new linen.BatchNorm({ name: 'last', useFastVariance: false }))(y, { useRunningAverage: !kw.train });
  }
  override async callAsync(scope: linen.Scope, x: any, kw: { train: boolean } = { train: true }): Promise<any> {
    const y = await scope.childAsync(new linen.BatchNorm({ momentum: 0.9 }))(x, { useRunningAverage: !kw.train });
    return scope.childAsync(new linen.BatchNorm({ name: 'last', useFastVariance: false }))(y, { useRunningAverage: !kw.train });
  }
}

async function compositionTranscript(engine: Engine<any>, api: Api): Promise<unknown[]> {
  const { transcript, record } = recorder(engine);
  const net = new TwoNorms();
  const vars = (await record('init', () => (api === 'sync' ? net.init(KEY, X(engine), { train: true, engine }) : net.initAsync(KEY, X(engine), { train: true, engine })))) as linen.Variables;
  const apply = (v: linen.Variables, o: { train: boolean } & linen.ApplyOptions) => (api === 'sync' ? net.apply(v, X(engine), o) : net.applyAsync(v, X(engine), o));
  const [, updates] = (await record('train', () => apply(vars, { train: true, mutable: ['batch_stats'], engine }))) as [unknown, linen.Variables];
  await record('eval', () => apply({ ...vars, ...updates }, { train: false, engine }));
  await record('train without mutable', () => apply(vars, { train: true, engine }));
  return transcript;
}

// --------------------------------------------------------------------------------------- nnx

async function nnxTranscript(engine: Engine<any>, api: Api): Promise<unknown[]> {
  const { transcript, record } = recorder(engine);
  const call = (m: nnx.BatchNorm, x: unknown, a: nnx.BatchNormCallArgs = {}) => (api === 'sync' ? m.call(x, a) : m.callAsync(x, a));
  const vjp = (m: nnx.BatchNorm, x: unknown, dy: unknown, a: nnx.BatchNormCallArgs = {}) => (api === 'sync' ? m.vjp(x, dy, a) : m.vjpAsync(x, dy, a));
  const bn = new nnx.BatchNorm(3, { momentum: 0.9, rngs: new nnx.Rngs(0), engine });
  const variables = () => ({ scale: bn.scale?.value, bias: bn.bias?.value, mean: bn.mean.value, var: bn.var.value });

  await record('train', () => call(bn, X(engine)));
  await record('state after train', variables);
  const snapshot = nnx.state(bn);
  await record('vjp train', () => vjp(bn, X2(engine), DY(engine)));
  await record('train again', () => call(bn, X2(engine)));
  // The snapshot's leaves survive the training call that replaced (and disposed) the statistics.
  await record('snapshot', () => nnx.toPureDict(snapshot));
  await record('state after second train', variables);
  await record('masked train', () => call(bn, X(engine), { mask: MASK(engine) }));
  bn.eval();
  await record('eval', () => call(bn, X(engine)));
  await record('vjp eval', () => vjp(bn, X(engine), DY(engine)));
  await record('call argument wins', () => call(bn, X2(engine), { useRunningAverage: false }));
  await record('state after override', variables);

  const bare = new nnx.BatchNorm(3, { useRunningAverage: null, useScale: false, useBias: false, useFastVariance: false, rngs: new nnx.Rngs(1), engine });
  await record('no use_running_average', () => call(bare, X(engine)));
  await record('vjp no use_running_average', () => vjp(bare, X(engine), DY(engine)));
  await record('no affine train', () => call(bare, X(engine), { useRunningAverage: false }));
  await record('no affine vjp', () => vjp(bare, X(engine), DY(engine), { useRunningAverage: false }));
  await record('wrong feature count', () => call(bn, up(engine, [3, 4], X43), { useRunningAverage: false }));
  bn.dtype = 'int32';
  await record('integer dtype', () => call(bn, X(engine)));
  return transcript;
}

// ------------------------------------------------------------------------------------ legacy

async function legacyTranscript(engine: Engine<any>, api: Api): Promise<unknown[]> {
  const { transcript, record } = recorder(engine);
  type Kw = nn.BatchNormKwargs & nn.TopLevelOptions;
  const call = (params: Tree, x: unknown, kw: Kw) => (api === 'sync' ? nn.BatchNorm.call(params, x, kw) : nn.BatchNorm.callAsync(params, x, kw));
  const vjp = (params: Tree, x: unknown, dy: unknown, kw: Kw) => (api === 'sync' ? nn.batchNormVjp(params, x, dy, kw) : nn.batchNormVjpAsync(params, x, dy, kw));
  const stateful = <R>(state: nn.Collection | undefined, fn: () => R | Promise<R>, options: nn.StatefulOptions = {}): unknown =>
    api === 'sync' ? nn.stateful(state, fn as () => R, options) : nn.statefulAsync(state, fn, options);
  const kw: Kw = { momentum: 0.9, engine };

  const [[, params], initState] = (await record('init', () =>
    stateful(undefined, () => (api === 'sync' ? nn.BatchNorm.init(KEY, X(engine), kw) : nn.BatchNorm.initAsync(KEY, X(engine), kw))),
  )) as [[unknown, Tree], nn.Collection];
  const [, trained] = (await record('train', () => stateful(initState, () => call(params, X(engine), kw)))) as [unknown, nn.Collection];
  await record('eval, mutable=False', () => stateful(trained, () => call(params, X(engine), { ...kw, useRunningAverage: true }), { mutable: false }));
  await record('train, mutable=False', () => stateful(trained, () => call(params, X(engine), kw), { mutable: false }));
  await record('vjp train', () => stateful(trained, () => vjp(params, X2(engine), DY(engine), kw)));
  await record('vjp eval', () => stateful(trained, () => vjp(params, X2(engine), DY(engine), { ...kw, useRunningAverage: true })));
  await record('train without state', () => call(params, X2(engine), kw));
  await record('eval without state', () => call(params, X(engine), { ...kw, useRunningAverage: true }));
  await record('vjp eval without state', () => vjp(params, X(engine), DY(engine), { ...kw, useRunningAverage: true }));
  const explicit = new nn.Collection(trained.asDict());
  await record('explicit batch_stats', () =>
    api === 'sync'
      ? explicit.mutate((c) => call(params, X2(engine), { ...kw, batchStats: c }))
      : explicit.mutateAsync((c) => call(params, X2(engine), { ...kw, batchStats: c })),
  );
  await record('multi-axis, no affine: init and train in one context', () => {
    const x3 = up(engine, [2, 3, 2], X43);
    const noAffine: Kw = { axis: [1, 2], scale: false, bias: false, engine };
    if (api === 'sync') return nn.stateful(undefined, () => nn.BatchNorm.call(nn.BatchNorm.init(KEY, x3, noAffine)[1], x3, noAffine));
    return nn.statefulAsync(undefined, async () => nn.BatchNorm.callAsync((await nn.BatchNorm.initAsync(KEY, x3, noAffine))[1], x3, noAffine));
  });
  await record('integer dtype', () => stateful(trained, () => call(params, X(engine), { ...kw, dtype: 'int32' })));
  return transcript;
}

// ------------------------------------------------------------------------------------- tests

const SCENARIOS = { linen: linenTranscript, 'linen composition': compositionTranscript, nnx: nnxTranscript, legacy: legacyTranscript };

describe.each(syncCases)('on $name (synchronous), the async paths give exactly the sync results', ({ engine }) => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      const expected = await scenario(engine, 'sync');
      expect(expected.filter((s) => (s as unknown[])[1] !== 'raised').length).toBeGreaterThan(2);
      expect(await scenario(engine, 'async')).toEqual(expected);
    });
  }
});

describe.each(asyncEngines)('on $name (asynchronous), the async paths give the sync results of the reference', (engine) => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      expect(await scenario(engine, 'async')).toEqual(await scenario(reference, 'sync'));
    });
  }

  it('synchronous calls raise UnsupportedError naming the async variants', async () => {
    const x = X(engine);
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    expect(() => bn.init(KEY, x, { engine })).toThrow(UnsupportedError);
    expect(() => bn.apply({}, x, { engine })).toThrow(/applyAsync/);
    const vars = await bn.initAsync(KEY, x, { engine });
    expect(() => bn.vjp(vars, x, x, { engine })).toThrow(UnsupportedError);
    const layer = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    expect(() => layer.call(x)).toThrow(/callAsync/);
    expect(() => layer.vjp(x, x)).toThrow(UnsupportedError);
    expect(() => nn.BatchNorm.call({}, x, { engine })).toThrow(UnsupportedError);
    expect(() => nn.batchNormVjp({}, x, x, { engine })).toThrow(UnsupportedError);
    // A composition calling a BatchNorm synchronously inside applyAsync gets the same error.
    class SyncInside extends linen.Module {
      call(scope: linen.Scope, xx: unknown): unknown {
        return scope.child(new linen.BatchNorm({ useRunningAverage: true }))(xx);
      }
    }
    await expect(new SyncInside().initAsync(KEY, x, { engine })).rejects.toThrow(/callAsync/);
  });

  it("tf.Tensor inputs are refused: they are not the engine's tensors", async () => {
    const x = tf.tensor2d(X43, [4, 3]);
    await expect(new linen.BatchNorm({ useRunningAverage: true }).initAsync(KEY, x, { engine })).rejects.toThrow(/not a tensor of engine/);
    await expect(new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine }).callAsync(x)).rejects.toThrow(UnsupportedError);
    x.dispose();
  });

  it('nn.statefulAsync keeps its context across awaits, and removes it after', async () => {
    const x = X(engine);
    const [[, params], state] = await nn.statefulAsync(undefined, () => nn.BatchNorm.initAsync(KEY, x, { engine }));
    const [, after] = await nn.statefulAsync(state, async () => {
      await nn.BatchNorm.callAsync(params, x, { engine });
      expect(nn.isStateful()).toBe(true);
      return nn.BatchNorm.callAsync(params, x, { engine });
    });
    expect(nn.isStateful()).toBe(false);
    // Two training calls in one context: the second read the statistics the first wrote.
    const xr = X(reference);
    const [[, paramsR], stateR] = nn.stateful(undefined, () => nn.BatchNorm.init(KEY, xr, { engine: reference }));
    const [, twice] = nn.stateful(stateR, () => {
      nn.BatchNorm.call(paramsR, xr, { engine: reference });
      return nn.BatchNorm.call(paramsR, xr, { engine: reference });
    });
    expect(await plain(engine, after)).toEqual(await plain(reference, twice));
    // The state passed in is untouched; a failing fn leaves no context behind.
    expect(await plain(engine, state.get('/')!['mean'])).toEqual([0, 0, 0]);
    await expect(nn.statefulAsync(state, () => nn.BatchNorm.callAsync(params, x, { engine, useRunningAverage: true, dtype: 'bool' }))).rejects.toThrow(/inexact/);
    expect(nn.isStateful()).toBe(false);
  });
});

describe('engine leaves (a foreign tensor type, as ONNX Runtime has)', () => {
  it('are leaves of variable trees once their engine is used, with the engine shape', async () => {
    const engine = boxedAsyncReference();
    const t = new BoxTensor(hostTensor([2, 3], new Float64Array(6)));
    const vars = await new linen.BatchNorm({ useRunningAverage: true }).initAsync(KEY, engine.fromHost(hostTensor([2, 3], new Float64Array(6))), { engine });
    expect(isEngineLeaf(t)).toBe(true);
    expect(isLeaf(vars['params']!['scale'])).toBe(true);
    expect(Object.keys(vars['params']!).sort()).toEqual(['bias', 'scale']);
    expect(isEngineLeaf({ dims: [1] })).toBe(false);
  });
});
