/**
 * Replays a fixture through the float64 reference of @normbridge/core, with the framework's
 * arguments mapped to the canonical spec by the framework's profile (`@normbridge/frameworks`,
 * the same mapping the adapters use). A mismatch means the fixture contradicts the profile (or
 * the reference). It is here so a fixture, committed or captured from a user's model, can be
 * checked without any adapter or engine.
 *
 * Where this check deliberately stays independent of the adapters, and says so below: it runs
 * the float64 reference rather than an engine; it applies Keras' mask broadcast and frozen-layer
 * inference itself rather than through the Keras adapter; and it leaves out what the reference
 * does not model (whole training steps, Flax initialisation, replicated `pmap` variables).
 *
 * Steps are teacher-forced: each starts from the fixture's own state before it, so one
 * deviation does not cascade.
 */
import {
  SingleValuePerChannelError,
  referenceEval,
  referenceTrain,
  referenceVjp,
  type BatchNormSpec,
  type HostState,
  type HostTensor,
  type Int64Tensor,
} from '@normbridge/core';
import { fixtureCall, keras, PROFILES, variableName, type FrameworkProfile } from '@normbridge/frameworks';
import type { LoadedFixture } from './fixture-load.js';
import { toleranceOfKind, type FixtureManifest, type FixtureStep } from './fixture-schema.js';

type Names = { scale: string; bias: string; runningMean: string; runningVar: string; counter?: string | undefined };

/** The framework's variable names of each canonical state key, from its profile. */
function namesOf(framework: FixtureManifest['framework']['name']): Names {
  const profile = PROFILES[framework] as FrameworkProfile<never, never>;
  return {
    scale: variableName(profile, 'scale'),
    bias: variableName(profile, 'bias'),
    runningMean: variableName(profile, 'runningMean'),
    runningVar: variableName(profile, 'runningVar'),
    counter: profile.counter,
  };
}

/** The canonical spec for one step, or a reason why the reference cannot express it. */
export function specFor(m: FixtureManifest, step: FixtureStep): BatchNormSpec | string {
  const call = step.call as Record<string, unknown>;
  if (step.loss !== undefined) return 'a whole training step (loss, optimizer) is outside the reference';
  if (m.framework.name.startsWith('flax')) {
    if (call['method'] === 'init' || call['omit_collections']) return 'init/omitted-collection semantics are not a reference feature';
    // Replicated variables and stacked replicas: replayed through the adapter's pmap emulation
    // (conformance, on every engine including the float64 reference), not by this check.
    if (call['pmap']) return 'jax.pmap steps (replicated variables) are replayed through the adapter, not cross-checked here';
  }
  const profile = PROFILES[m.framework.name];
  const profileCall = fixtureCall(m.framework.name, { call, masked: step.mask !== undefined });
  return profile.specFromArgs(m.layer.args, profileCall, profile.versionOf(m.framework.version));
}

function stateFrom(f: LoadedFixture, map: Record<string, string>, names: Names): HostState {
  const t = (k: string | undefined) => (k !== undefined && map[k] !== undefined ? (f.tensors.get(map[k]!) as HostTensor) : undefined);
  const counter = names.counter && map[names.counter] ? Number((f.tensors.get(map[names.counter]!) as Int64Tensor).data[0]) : 0;
  return { scale: t(names.scale), bias: t(names.bias), runningMean: t(names.runningMean), runningVar: t(names.runningVar), numBatchesTracked: counter };
}

/**
 * The mode the framework actually ran: Keras 3 runs a `trainable=False` layer in inference even
 * when called with `training=True` (a profile fact; applied here, not through the adapter).
 */
function effectiveMode(m: FixtureManifest, step: FixtureStep): 'train' | 'eval' {
  const frozen = m.framework.name === 'keras' && keras.frozenLayerRunsInference && (m.layer.args as Record<string, unknown>)['trainable'] === false;
  return frozen ? 'eval' : step.mode;
}

/**
 * The mask as the reference takes it (right-aligned broadcast): Keras 3 masks gain a last axis.
 * Deliberately written here again rather than taken from the Keras adapter: this check must
 * not inherit an adapter's mistake, so the fixture alone says whether the broadcast is right.
 */
function referenceOptions(f: LoadedFixture, step: FixtureStep): { mask?: HostTensor } {
  if (!step.mask) return {};
  const mask = f.tensors.get(step.mask) as HostTensor;
  return { mask: f.manifest.framework.name === 'keras' ? { ...mask, shape: [...mask.shape, 1] } : mask };
}

/** ONNX 1-D input: one channel, reshaped to (N, 1) for the reference. */
function asReferenceInput(m: FixtureManifest, x: HostTensor): HostTensor {
  return m.layout === 'N' ? { ...x, shape: [x.shape[0]!, 1] } : x;
}

function mismatch(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }): string | undefined {
  if (actual.length !== expected.length) return `${what}: length ${actual.length} vs ${expected.length}`;
  let worst = -1;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (excess > worst || Number.isNaN(excess))) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  return at < 0 ? undefined : `${what}[${at}]: reference ${actual[at]} vs fixture ${expected[at]}`;
}

/** Replays a fixture; returns the mismatches and the steps it could not check (with why). */
export function crosscheckFixture(f: LoadedFixture): { mismatches: string[]; skipped: string[] } {
  const m = f.manifest;
  const names = namesOf(m.framework.name);
  const mismatches: string[] = [];
  const skipped: string[] = [];
  let prev = m.initialState;
  m.steps.forEach((step, i) => {
    const beforeMap = step.stateBefore ?? prev;
    const afterMap = step.state ?? beforeMap;
    prev = afterMap;
    const spec = specFor(m, step);
    if (typeof spec === 'string') return void skipped.push(`step ${i}: ${spec}`);
    const before = stateFrom(f, beforeMap, names);
    const x = asReferenceInput(m, f.tensors.get(step.input) as HostTensor);
    if (x.shape.reduce((a, b) => a * b, 1) === 0) return void skipped.push(`step ${i}: empty input`);
    const opts = referenceOptions(f, step);
    const tol = toleranceOfKind(m.tolerance, 'output');
    const stateTol = toleranceOfKind(m.tolerance, 'state');
    const gradTol = toleranceOfKind(m.tolerance, 'gradients');
    const mode = effectiveMode(m, step);
    const label = `step ${i} (${step.mode})`;
    if (step.error) {
      const singleValue = /more than (1|one) value per channel/.test(step.error.message);
      if (!singleValue) return void skipped.push(`step ${i}: framework error ${step.error.type} is outside the reference`);
      try {
        if (step.mode === 'train') referenceTrain(spec, before, x, opts);
        else referenceEval(spec, before, x, opts);
        mismatches.push(`${label}: fixture expects ${step.error.type}, the reference raised nothing`);
      } catch (e) {
        if (!(e instanceof SingleValuePerChannelError)) throw e;
      }
      return;
    }
    let y: HostTensor;
    let after: HostState = before;
    try {
      if (mode === 'train') {
        const out = referenceTrain(spec, before, x, opts);
        y = out.y;
        after = out.state;
      } else {
        y = referenceEval(spec, before, x, opts);
      }
    } catch (e) {
      mismatches.push(`${label}: the reference raised ${(e as Error).name} but the fixture has an output`);
      return;
    }
    const out = mismatch(`${label} output`, y.data, (f.tensors.get(step.output!) as HostTensor).data, tol);
    if (out) mismatches.push(out);
    const expectedAfter = stateFrom(f, afterMap, names);
    for (const k of ['scale', 'bias', 'runningMean', 'runningVar'] as const) {
      const e = expectedAfter[k];
      const a = after[k];
      if (!e && !a) continue;
      if (!e || !a) {
        mismatches.push(`${label} state ${k}: ${e ? 'missing in reference' : 'missing in fixture'}`);
        continue;
      }
      const msg = mismatch(`${label} state ${k}`, a.data, e.data, stateTol);
      if (msg) mismatches.push(msg);
    }
    if (names.counter && afterMap[names.counter] !== undefined && expectedAfter.numBatchesTracked !== after.numBatchesTracked) {
      mismatches.push(`${label} ${names.counter}: reference ${after.numBatchesTracked} vs fixture ${expectedAfter.numBatchesTracked}`);
    }
    if (step.cotangent && step.gradients) {
      const dy = asReferenceInput(m, f.tensors.get(step.cotangent) as HostTensor);
      const g = referenceVjp(spec, before, x, dy, mode, opts);
      const gx = mismatch(`${label} d input`, g.dx.data, (f.tensors.get(step.gradients.input) as HostTensor).data, gradTol);
      if (gx) mismatches.push(gx);
      for (const [k, ref] of [[names.scale, g.dScale], [names.bias, g.dBias]] as const) {
        const name = step.gradients[k];
        if (name === undefined) continue;
        const msg = ref ? mismatch(`${label} d ${k}`, ref.data, (f.tensors.get(name) as HostTensor).data, gradTol) : `${label} d ${k}: no reference gradient`;
        if (msg) mismatches.push(msg);
      }
    }
  });
  return { mismatches, skipped };
}

/** What the float64 reference expects of one step, in the framework's variable names. */
export type ReferenceStep =
  | { readonly kind: 'ok'; readonly output: HostTensor; readonly state: Record<string, HostTensor> }
  | { readonly kind: 'skipped'; readonly reason: string };

/**
 * The fixture's inputs replayed through the float64 reference from its initial state, carrying
 * the reference's own state from step to step (not teacher-forced): what a correct
 * implementation does where the recorded framework misbehaved (a crash, a wrong kernel).
 */
export function referenceTrajectory(f: LoadedFixture): ReferenceStep[] {
  const m = f.manifest;
  const names = namesOf(m.framework.name);
  let state = stateFrom(f, m.initialState, names);
  return m.steps.map((step) => {
    const spec = specFor(m, step);
    if (typeof spec === 'string') return { kind: 'skipped', reason: spec };
    if (step.stateBefore) state = stateFrom(f, step.stateBefore, names);
    const x = asReferenceInput(m, f.tensors.get(step.input) as HostTensor);
    const opts = referenceOptions(f, step);
    let output: HostTensor;
    if (effectiveMode(m, step) === 'train') {
      const out = referenceTrain(spec, state, x, opts);
      output = out.y;
      state = out.state;
    } else {
      output = referenceEval(spec, state, x, opts);
    }
    const named: Record<string, HostTensor> = {};
    for (const k of ['scale', 'bias', 'runningMean', 'runningVar'] as const) {
      const t = state[k];
      if (t) named[names[k]] = { ...t, shape: t.shape.length === 0 ? [1] : [...t.shape] };
    }
    return { kind: 'ok', output: { ...output, shape: [...(f.tensors.get(step.input) as HostTensor).shape] }, state: named };
  });
}
