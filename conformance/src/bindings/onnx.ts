import type { BatchNormState, Engine, HostTensor, StateTensorKey } from '@normbridge/core';
import { onnx } from '@normbridge/frameworks';
import { errorOutcome, floatTensor, NotApplicable, toHost, type FrameworkBinding, type StepOutcome } from './types.js';

/** ONNX input names of BatchNormalization ↔ the engine's state keys (the ONNX profile's). */
const INPUTS: Readonly<Record<string, StateTensorKey>> = Object.fromEntries([...onnx.params, ...onnx.stats].map((v) => [v.name, v.key]));

/** Node attributes of `BatchNormalization` (opset 15) a fixture may set; others have no translation. */
const ATTRIBUTES = new Set(Object.values(onnx.argumentNames));

/**
 * ONNX fixtures run the node's semantics on the engine directly (ONNX has no layer object):
 * the ONNX profile's spec from the node attributes, `train` for `training_mode = 1` (whose
 * `running_mean`/`running_var` outputs become the next step's `input_mean`/`input_var`, as the
 * generator fed them back) and `evaluate` for `training_mode = 0`.
 */
export const onnxBinding: FrameworkBinding = {
  framework: 'onnx',
  profile: (m) => `onnx ${m.framework.version}`,
  async open(fixture, engine: Engine<any>, given?: unknown) {
    const { layer, initialState, layout } = fixture.manifest;
    if (layer.class !== 'BatchNormalization') throw new NotApplicable(`no adapter for ONNX operator ${layer.class}`);
    if (given !== undefined) throw new NotApplicable('ONNX has no layer object; fixtures replay the BatchNormalization node on the engine');
    const a = layer.args as Record<string, unknown>;
    for (const k of Object.keys(a)) if (!ATTRIBUTES.has(k)) throw new NotApplicable(`BatchNormalization attribute "${k}" has no translation`);
    // A fixture records the decimals the node was given; ONNX Runtime computes with their float32 values.
    const spec = onnx.specFromArgs(a, { float32Attributes: true });
    // Layout 'N' is ONNX's 1-D input X of shape (N): one channel. The spec's channel axis is 1,
    // so X is seen as (N, 1) and the output laid back as (N); the values are untouched.
    const asEngineInput = (t: HostTensor): HostTensor => (layout === 'N' ? { ...t, shape: [t.shape[0]!, 1] } : t);
    const asFixtureOutput = (t: HostTensor, shape: readonly number[]): HostTensor => (layout === 'N' ? { ...t, shape: [...shape] } : t);

    const load = (map: Readonly<Record<string, string>>): BatchNormState<any> => {
      const host: Record<string, HostTensor> = {};
      for (const [name, tensorName] of Object.entries(map)) {
        const key = Object.hasOwn(INPUTS, name) ? INPUTS[name] : undefined;
        if (key === undefined) throw new NotApplicable(`"${name}" is not a BatchNormalization input`);
        host[key] = floatTensor(fixture, tensorName);
      }
      return engine.stateFromHost({ ...host, numBatchesTracked: 0 });
    };
    let state = load(initialState);
    const release = (s: BatchNormState<any>, keep?: BatchNormState<any>) => {
      const kept = new Set(keep ? [keep.scale, keep.bias, keep.runningMean, keep.runningVar] : []);
      engine.dispose(...[s.scale, s.bias, s.runningMean, s.runningVar].filter((t) => !kept.has(t)));
    };

    return {
      async step(step): Promise<StepOutcome> {
        if (step.stateBefore) {
          release(state);
          state = load(step.stateBefore);
        }
        const call = step.call as { training_mode?: number };
        const mode = (call.training_mode ?? (step.mode === 'train' ? 1 : 0)) === 1 ? 'train' : 'eval';
        const xHost = floatTensor(fixture, step.input);
        const x = engine.fromHost(asEngineInput(xHost));
        try {
          let gradients: Record<string, HostTensor> | undefined;
          if (step.cotangent !== undefined && engine.capabilities.gradients) {
            const dy = engine.fromHost(asEngineInput(floatTensor(fixture, step.cotangent)));
            const g = await engine.vjp(spec, state, x, dy, mode);
            gradients = { input: asFixtureOutput(await toHost(engine, g.dx), xHost.shape) };
            if (g.dScale) gradients['scale'] = await toHost(engine, g.dScale);
            if (g.dBias) gradients['B'] = await toHost(engine, g.dBias);
            engine.dispose(dy, g.dx, g.dScale, g.dBias);
          }
          let y: unknown;
          if (mode === 'train') {
            const out = await engine.train(spec, state, x);
            engine.dispose(out.batchMean, out.batchVar);
            release(state, out.state);
            state = out.state;
            y = out.y;
          } else {
            y = await engine.evaluate(spec, state, x);
          }
          const output = asFixtureOutput(await toHost(engine, y), xHost.shape);
          engine.dispose(y);
          const stateOut: Record<string, HostTensor> = {};
          for (const [name, key] of Object.entries(INPUTS)) {
            const t = state[key];
            if (t !== undefined) stateOut[name] = await toHost(engine, t);
          }
          return { kind: 'ok', output, state: stateOut, ...(gradients ? { gradients } : {}) };
        } catch (err) {
          return errorOutcome(err);
        } finally {
          engine.dispose(x);
        }
      },
      dispose: () => release(state),
    };
  },
};
