/**
 * Checking an explanation: the target's canonical spec with the differing conventions set back
 * to the source's values, run by core's stateful runner on the same engine from the same state.
 * When that reproduces the source, the named conventions account for the whole difference; when
 * it does not, something else differs and the cell is unexplained.
 */
import { LayerState, STATE_TENSOR_KEYS, type BatchNormSpec, type Engine, type HostState, type HostTensor } from '@normbridge/core';
import type { LoadedFixture } from '../fixture-load.js';
import type { Framework } from '@normbridge/safetensors';
import { identityAffine, statsVariables, variableOf } from './fixture-checkpoint.js';
import { initialCount } from './nearest.js';

/** The target's spec with `fields` taken from the source's. */
export function alignedSpec(target: BatchNormSpec, source: BatchNormSpec, fields: readonly string[]): BatchNormSpec {
  const s = source as unknown as Record<string, unknown>;
  return { ...target, ...Object.fromEntries(fields.map((f) => [f, s[f]])) } as BatchNormSpec;
}

/** The fixture's initial state as the aligned spec takes it (a missing scale/bias is the identity, as the port builds it). */
function initialState(fixture: LoadedFixture, naming: Framework, spec: BatchNormSpec): HostState {
  const state = fixture.manifest.initialState;
  const get = (variable: string) => {
    const name = state[variable];
    return name === undefined ? undefined : (fixture.tensors.get(name) as HostTensor | undefined);
  };
  const stats = statsVariables(naming);
  const mean = get(stats.mean)!;
  const identity = identityAffine(mean.shape);
  return {
    runningMean: mean,
    runningVar: get(stats.variance)!,
    ...(spec.scale ? { scale: get(variableOf(naming, 'scale')) ?? identity.scale } : {}),
    ...(spec.bias ? { bias: get(variableOf(naming, 'bias')) ?? identity.bias } : {}),
    numBatchesTracked: initialCount(fixture),
  };
}

/** A layer running the aligned spec: one call per step, its running statistics after each. */
export interface AlignedLayer {
  step(x: HostTensor, mode: 'train' | 'eval'): Promise<HostTensor>;
  runningStats(): Promise<{ mean: HostTensor; variance: HostTensor }>;
  dispose(): void;
}

export function alignedLayer(fixture: LoadedFixture, naming: Framework, spec: BatchNormSpec, engine: Engine<any>): AlignedLayer {
  // Float32 state, as the port's layers hold it whatever the fixture's dtype.
  const host = initialState(fixture, naming, spec);
  const f32 = (t: HostTensor | undefined): HostTensor | undefined => (t === undefined ? undefined : { shape: [...t.shape], data: Float32Array.from(t.data), dtype: 'float32' });
  const runner = new LayerState(engine, engine.stateFromHost({ ...host, runningMean: f32(host.runningMean), runningVar: f32(host.runningVar), scale: f32(host.scale), bias: f32(host.bias) }));
  const toHost = async (t: unknown) => (await engine.toHost(t)) as HostTensor;
  return {
    async step(x, mode) {
      const input = engine.fromHost({ shape: [...x.shape], data: Float32Array.from(x.data), dtype: 'float32' });
      const out = await runner.runAsync(spec, mode, input);
      const y = await toHost(out);
      engine.dispose(...new Set([input, out]));
      return y;
    },
    runningStats: async () => ({ mean: await toHost(runner.state.runningMean), variance: await toHost(runner.state.runningVar) }),
    dispose: () => engine.dispose(...STATE_TENSOR_KEYS.map((k) => runner.state[k])),
  };
}
