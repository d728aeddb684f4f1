/**
 * Cross-framework conformance: a fixture recorded in one framework, translated into another
 * through the mapping `normbridge convert` uses (`batchNormsFromCheckpoint`), replayed through
 * that framework's adapter, and compared with what the source framework recorded. Where the
 * port does not reproduce the source, the differing fields are attributed to the conventions
 * (fields of the canonical spec) in which the two frameworks' layers differ.
 */
import { transpose, type BatchNormSpec, type Engine, type HostTensor } from '@normbridge/core';
import { fixtureCall, PROFILES } from '@normbridge/frameworks';
import { batchNormsFromCheckpoint, PortError, type PortTarget } from '@normbridge/port';
import { NotApplicable } from '../bindings/types.js';
import { compareTensors, type Tolerance } from '../compare.js';
import { fixtureFeatureAxes, type LoadedFixture } from '../fixture-load.js';
import { FLOAT32_REDUCTION_FLOOR, FLOAT32_TOLERANCE } from '../runner.js';
import { driverFor } from './drivers.js';
import { fixtureCheckpoint, MODULE, statsVariables } from './fixture-checkpoint.js';

/** Train-step outputs, eval-step outputs (which read the running statistics), and the statistics. */
export type CrossField = 'train output' | 'eval output' | 'running_mean' | 'running_var';

export interface CrossFieldResult {
  readonly field: CrossField;
  /** Largest |port − source| over all steps. */
  readonly worst: number;
  /** |port − source| after the last step that has this field. */
  readonly final: number;
  /** Steps that had this field (train steps for the running statistics). */
  readonly steps: number;
  readonly ok: boolean;
}

export interface CrossResult {
  readonly case: string;
  /** `torch 1.13.0a0`. */
  readonly source: string;
  readonly target: PortTarget;
  readonly status: 'reproduces' | 'differs' | 'cannot-express' | 'n/a';
  readonly steps: number;
  readonly fields: readonly CrossFieldResult[];
  /** Spec fields in which source and target differ, e.g. `runningVarianceEstimator: unbiased → biased`. */
  readonly conventions: readonly string[];
  /** Every differing field is touched by a differing convention. */
  readonly explained: boolean;
  readonly reason?: string;
}

/** Canonical spec fields that are conventions a port can get wrong, and what each one moves. */
const CONVENTIONS: Readonly<Record<string, readonly CrossField[]>> = {
  epsilon: ['train output', 'eval output'],
  varianceAlgorithm: ['train output', 'eval output', 'running_var'],
  statisticsDtype: ['train output', 'eval output', 'running_mean', 'running_var'],
  runningAverage: ['running_mean', 'running_var', 'eval output'],
  runningUpdateForm: ['running_mean', 'running_var', 'eval output'],
  runningVarianceEstimator: ['running_var', 'eval output'],
  // Not a spec field but a profile fact (`emptyTrainingBatch`): ATen returns an empty batch's
  // (empty) output before touching the running statistics; Flax, Keras and MLX average over nothing.
  emptyBatch: ['running_mean', 'running_var', 'eval output'],
};

/** Where the target wants its channels: PyTorch's axis 1, everyone else's last axis. */
const channelsFirst = (target: PortTarget) => PROFILES[target].defaults.featureAxis === 1;

function moveAxis(x: HostTensor, from: number, to: number): HostTensor {
  if (from === to) return x;
  const perm = [...x.shape.keys()].filter((a) => a !== from);
  perm.splice(to, 0, from);
  return transpose(x, perm);
}

function specDifferences(a: BatchNormSpec, b: BatchNormSpec): string[] {
  const out: string[] = [];
  for (const field of Object.keys(CONVENTIONS)) {
    const x = JSON.stringify((a as Record<string, unknown>)[field]);
    const y = JSON.stringify((b as Record<string, unknown>)[field]);
    if (x !== y) out.push(`${field}: ${x} → ${y}`);
  }
  return out;
}

/** Steps this replay can drive: plain train/eval calls, no expected errors, masks or injected state. */
function checkReplayable(f: LoadedFixture): void {
  const m = f.manifest;
  if (m.layout === 'custom' || m.layout === 'N') throw new NotApplicable(`layout ${m.layout}`);
  const simpleCall = new Set(['training', 'use_running_average', 'mutable']);
  for (const [i, s] of m.steps.entries()) {
    if (s.error !== undefined) throw new NotApplicable(`step ${i} expects an error`);
    if (s.mask !== undefined || s.stateBefore !== undefined) throw new NotApplicable(`step ${i} has a mask or injected state`);
    if (s.output === undefined || s.state === undefined) throw new NotApplicable(`step ${i} has no output or state`);
    const extra = Object.keys(s.call).filter((k) => !simpleCall.has(k));
    if (extra.length > 0) throw new NotApplicable(`step ${i} calls with ${extra.join(', ')}`);
  }
}

function tolerance(f: LoadedFixture): Tolerance {
  const floor = f.manifest.dtype === 'float64' ? FLOAT32_TOLERANCE : FLOAT32_REDUCTION_FLOOR;
  return { atol: Math.max(f.manifest.tolerance.atol, floor.atol), rtol: Math.max(f.manifest.tolerance.rtol, floor.rtol) };
}

/** Replays one fixture through one target framework; the engine must be synchronous (tfjs cpu). */
export async function crossCheck(fixture: LoadedFixture, target: PortTarget, engine: Engine<any>): Promise<CrossResult> {
  const m = fixture.manifest;
  const base = { case: `${m.framework.name}/${m.case}`, source: `${m.framework.name} ${m.framework.version}`, target, steps: m.steps.length };
  const empty = { fields: [], conventions: [], explained: true };
  try {
    if (!engine.synchronous) throw new NotApplicable(`engine ${engine.name} is asynchronous`);
    checkReplayable(fixture);
    const { reader, naming } = fixtureCheckpoint(fixture, m.initialState);
    const stats = statsVariables(m.framework.name);
    if (!(stats.mean in m.initialState) || !(stats.variance in m.initialState)) throw new NotApplicable('the layer has no running statistics');
    const rank = fixture.tensors.get(m.steps[0]!.input)!.shape.length;
    const sourceAxis = fixtureFeatureAxes(m, rank);
    if (sourceAxis.length !== 1) throw new NotApplicable('more than one feature axis');
    const targetAxis = channelsFirst(target) ? 1 : rank - 1;
    const shape = { torchModule: rank === 4 ? 'BatchNorm2d' : rank === 5 ? 'BatchNorm3d' : 'BatchNorm1d', kerasInputRank: rank } as const;
    const from = naming;
    let ported;
    try {
      ported = await batchNormsFromCheckpoint(reader, { as: target, engine, from, ...shape });
    } catch (e) {
      if (e instanceof PortError && e.code === 'momentum-unsupported') {
        return { ...base, ...empty, status: 'cannot-express', explained: true, reason: e.message.replace(/^1 BatchNorm layer\(s\) \(bn\) use /, '') };
      }
      if (e instanceof PortError) throw e;
      // The target's own constructor refuses the translated configuration (e.g. Keras and eps 0).
      return { ...base, ...empty, status: 'cannot-express', explained: true, reason: `${target} refuses it: ${(e as Error).message}` };
    }
    const driver = driverFor(target, ported.layers.get(MODULE)!, engine);
    // What the source framework ran, from its profile (a training call, as the replay's train steps).
    const source = PROFILES[m.framework.name];
    const trainCall = m.steps.find((step) => step.mode === 'train')?.call ?? {};
    const sourceSpec = source.specFromArgs(m.layer.args, fixtureCall(source.id, { call: trainCall, masked: false, rank }), source.versionOf(m.framework.version));
    const conventions = specDifferences(sourceSpec, driver.spec(rank));
    const emptyTrainStep = m.steps.some((step) => step.mode === 'train' && fixture.tensors.get(step.input)!.shape.includes(0));
    const emptyBatch = [source.emptyTrainingBatch, PROFILES[target].emptyTrainingBatch] as const;
    if (emptyTrainStep && emptyBatch[0] !== undefined && emptyBatch[1] !== undefined && emptyBatch[0] !== emptyBatch[1]) {
      const what = { unchanged: 'skips the running update on an empty batch', nan: 'averages over nothing' } as const;
      conventions.push(`emptyBatch: ${source.id} ${what[emptyBatch[0]]} → ${target} ${what[emptyBatch[1]]}`);
    }

    const tol = tolerance(fixture);
    const acc: Record<CrossField, { worst: number; final: number; ok: boolean; seen: boolean; steps: number }> = {
      'train output': { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      'eval output': { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      running_mean: { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      running_var: { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
    };
    const record = (field: CrossField, actual: HostTensor, expected: HostTensor, label: string) => {
      const c = compareTensors(label, actual, expected, tol);
      const a = acc[field];
      a.worst = Math.max(a.worst, c.maxAbsError);
      a.final = c.maxAbsError;
      a.ok &&= c.ok;
      a.seen = true;
      a.steps++;
    };
    for (const [i, step] of m.steps.entries()) {
      const x = moveAxis(fixture.tensors.get(step.input) as HostTensor, sourceAxis[0]!, targetAxis);
      let out: unknown;
      try {
        out = driver.step(engine.fromHost(x), step.mode);
      } catch (e) {
        // The target refuses the call itself (e.g. MLX and 5-D inputs).
        return { ...base, ...empty, status: 'cannot-express', reason: `${target} refuses step ${i}: ${(e as Error).message}` };
      }
      const y = moveAxis(engine.toHost(out) as HostTensor, targetAxis, sourceAxis[0]!);
      record(`${step.mode} output`, y, fixture.tensors.get(step.output!) as HostTensor, `step ${i} output`);
      if (step.mode === 'train') {
        const s = driver.runningStats();
        record('running_mean', s.mean, fixture.tensors.get(step.state![stats.mean]!) as HostTensor, `step ${i} running_mean`);
        record('running_var', s.variance, fixture.tensors.get(step.state![stats.variance]!) as HostTensor, `step ${i} running_var`);
      }
    }
    const fields = (Object.keys(acc) as CrossField[]).filter((f) => acc[f].seen).map((field) => ({ field, worst: acc[field].worst, final: acc[field].final, ok: acc[field].ok, steps: acc[field].steps }));
    const failing = fields.filter((f) => !f.ok);
    const touched = new Set(conventions.flatMap((c) => CONVENTIONS[c.split(':')[0]!] ?? []));
    return {
      ...base,
      fields,
      conventions,
      status: failing.length === 0 ? 'reproduces' : 'differs',
      explained: failing.every((f) => touched.has(f.field)),
    };
  } catch (e) {
    if (e instanceof NotApplicable) return { ...base, ...empty, status: 'n/a', reason: e.message };
    if (e instanceof PortError) return { ...base, ...empty, status: 'n/a', reason: e.message };
    throw e;
  }
}
