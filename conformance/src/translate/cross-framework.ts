/**
 * Cross-framework conformance: a fixture recorded in one framework, translated into another
 * through the mapping `normbridge convert` uses (`batchNormsFromCheckpoint`), replayed through
 * that framework's adapter, and compared with what the source framework recorded. Where the
 * port does not reproduce the source, the differing fields are attributed to the conventions
 * (fields of the canonical spec) in which the two frameworks' layers differ.
 */
import { NormbridgeError, transpose, type BatchNormSpec, type Engine, type HostTensor } from '@normbridge/core';
import { fixtureCall, PROFILES } from '@normbridge/frameworks';
import { batchNormsFromCheckpoint, PortError, type PortTarget } from '@normbridge/port';
import { NotApplicable } from '../bindings/types.js';
import { compareTensors, type Tolerance } from '../compare.js';
import { fixtureFeatureAxes, type LoadedFixture } from '../fixture-load.js';
import { toleranceOfKind } from '../fixture-schema.js';
import { FLOAT32_REDUCTION_FLOOR, FLOAT32_ROUNDING_TAG, FLOAT32_TOLERANCE } from '../runner.js';
import { driverFor } from './drivers.js';
import { FIXTURE_NAMING, fixtureCheckpoint, hasHalfAffine, MODULE, statsVariables } from './fixture-checkpoint.js';
import { alignedLayer, alignedSpec } from './aligned.js';
import { nearestExpressible, NO_SUBSTITUTION, type Refusal, type Substitution } from './nearest.js';

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
  /** Every differing field is touched by a differing convention (for `cannot-express`: of the nearest configuration). */
  readonly explained: boolean;
  /** Why the target cannot express the source, or why the case is n/a. */
  readonly reason?: string;
  /**
   * `cannot-express` cells that were measured: the nearest configuration the target can express,
   * which was replayed instead (e.g. a constant momentum for PyTorch's cumulative average).
   */
  readonly nearest?: string;
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
  // Not a convention: the source framework's recorded values carry a bug the fixture declares.
  frameworkBug: ['train output', 'eval output', 'running_mean', 'running_var'],
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

/**
 * The fixture's own tolerance of each kind (outputs, state), never below float32 rounding: the
 * ported layers compute in float32, whatever the fixture's dtype.
 */
function tolerances(f: LoadedFixture): Record<'output' | 'state', Tolerance> {
  const floor = f.manifest.dtype === 'float64' ? FLOAT32_TOLERANCE : FLOAT32_REDUCTION_FLOOR;
  const of = (kind: 'output' | 'state') => {
    const t = toleranceOfKind(f.manifest.tolerance, kind);
    return { atol: Math.max(t.atol, floor.atol), rtol: Math.max(t.rtol, floor.rtol) };
  };
  return { output: of('output'), state: of('state') };
}

type Base = Pick<CrossResult, 'case' | 'source' | 'target' | 'steps'>;
type Replayed =
  | { readonly kind: 'replayed'; readonly fields: CrossFieldResult[]; readonly conventions: string[]; readonly explained: boolean }
  | { readonly kind: 'refused'; readonly refusal: Refusal; readonly reason: string };

/**
 * Replays one fixture through one target framework on any engine (synchronous or not). Where the
 * target cannot express the source (a cumulative average, eps 0, 5-D inputs), the nearest
 * configuration it can express is replayed instead and the result is `cannot-express` with the
 * measured fields, the conventions that differ and what was substituted (`nearest`).
 */
export async function crossCheck(fixture: LoadedFixture, target: PortTarget, engine: Engine<any>): Promise<CrossResult> {
  const m = fixture.manifest;
  const base: Base = { case: `${m.framework.name}/${m.case}`, source: `${m.framework.name} ${m.framework.version}`, target, steps: m.steps.length };
  try {
    checkReplayable(fixture);
    if ((m.tags ?? []).includes(FLOAT32_ROUNDING_TAG) && engine.capabilities.arithmetic === 'float64') {
      // As in the plain matrix: float32 rounding effects an engine in float64 does not make.
      throw new NotApplicable(`${FLOAT32_ROUNDING_TAG}: the expected values are float32 rounding effects, which ${engine.name} does not make (float64 arithmetic)`);
    }
    let substitution = NO_SUBSTITUTION;
    let firstReason: string | undefined;
    for (;;) {
      const r = await replay(fixture, target, engine, substitution);
      if (r.kind === 'replayed') {
        const failing = r.fields.filter((f) => !f.ok);
        const status = firstReason !== undefined ? 'cannot-express' : failing.length === 0 ? 'reproduces' : 'differs';
        return {
          ...base,
          fields: r.fields,
          conventions: r.conventions,
          status,
          explained: r.explained,
          ...(firstReason !== undefined ? { reason: firstReason, nearest: substitution.descriptions.join('; ') } : {}),
        };
      }
      firstReason ??= r.reason;
      const naming = FIXTURE_NAMING[m.framework.name];
      const next = nearestExpressible(fixture, target, r.refusal, substitution, naming !== undefined && hasHalfAffine(fixture, naming));
      if (next === undefined) {
        return { ...base, fields: [], conventions: [], status: 'cannot-express', explained: true, reason: r.reason };
      }
      substitution = next;
    }
  } catch (e) {
    if (e instanceof NotApplicable || e instanceof PortError) return { ...base, fields: [], conventions: [], status: 'n/a', explained: true, reason: e.message };
    throw e;
  }
}

/** Errors the adapters raise as their framework would: `pythonType` (torch, MLX, Keras), Flax's `flax*` codes. */
function isFrameworkError(e: unknown): boolean {
  return (typeof e === 'object' && e !== null && 'pythonType' in e) || (e instanceof NormbridgeError && e.code.startsWith('flax'));
}

/** [.., D, H, ..] → [.., D·H, ..] for the first two spatial axes of a 5-D tensor whose channels are on `channelAxis`. */
function mergeSpatial(x: HostTensor, channelAxis: number): HostTensor {
  const first = channelAxis === 1 ? 2 : 1;
  const shape = [...x.shape];
  shape.splice(first, 2, shape[first]! * shape[first + 1]!);
  return { ...x, shape };
}

async function replay(fixture: LoadedFixture, target: PortTarget, engine: Engine<any>, substitution: Substitution): Promise<Replayed> {
  const m = fixture.manifest;
  const { reader, naming } = fixtureCheckpoint(fixture, m.initialState, substitution.config);
  const stats = statsVariables(naming);
  if (!(stats.mean in m.initialState) || !(stats.variance in m.initialState)) throw new NotApplicable('the layer has no running statistics');
  const rank = fixture.tensors.get(m.steps[0]!.input)!.shape.length;
  const sourceAxis = fixtureFeatureAxes(m, rank);
  if (sourceAxis.length !== 1) throw new NotApplicable('more than one feature axis');
  const targetAxis = channelsFirst(target) ? 1 : rank - 1;
  const callRank = substitution.mergeSpatial && rank === 5 ? 4 : rank;
  const shape = { torchModule: callRank === 4 ? 'BatchNorm2d' : callRank === 5 ? 'BatchNorm3d' : 'BatchNorm1d', kerasInputRank: callRank } as const;
  const from = naming;
  let ported;
  try {
    ported = await batchNormsFromCheckpoint(reader, { as: target, engine, from, ...shape });
  } catch (e) {
    if (e instanceof PortError && e.code === 'momentum-unsupported') {
      return { kind: 'refused', refusal: { kind: 'momentum' }, reason: e.message.replace(/^1 BatchNorm layer\(s\) \(bn\) use /, '') };
    }
    if (e instanceof PortError && e.code === 'affine-unsupported') {
      return { kind: 'refused', refusal: { kind: 'construct', message: e.message }, reason: e.message.replace(/^1 BatchNorm layer\(s\) \(bn\) have/, 'the layer has') };
    }
    if (e instanceof PortError) throw e;
    // The target's own constructor refuses the translated configuration (e.g. MLX and eps 0).
    const message = (e as Error).message;
    return { kind: 'refused', refusal: { kind: 'construct', message }, reason: `${target} refuses it: ${message}` };
  }
  const driver = driverFor(target, ported.layers.get(MODULE)!, engine);
  // Every layer this replay builds is freed when it ends, whichever way it ends.
  const disposers: (() => void)[] = [() => driver.dispose()];
  try {
    // What the source framework ran, from its profile (a training call, as the replay's train steps).
    const source = PROFILES[m.framework.name];
    const trainCall = m.steps.find((step) => step.mode === 'train')?.call ?? {};
    const sourceSpec = source.specFromArgs(m.layer.args, fixtureCall(source.id, { call: trainCall, masked: false, rank: callRank }), source.versionOf(m.framework.version));
    const conventions = specDifferences(sourceSpec, driver.spec(callRank));
    if (m.frameworkBug !== undefined) conventions.push(`frameworkBug: ${m.framework.name} ${m.frameworkBug.description}`);
    const emptyTrainStep = m.steps.some((step) => step.mode === 'train' && fixture.tensors.get(step.input)!.shape.includes(0));
    const emptyBatch = [source.emptyTrainingBatch, PROFILES[target].emptyTrainingBatch] as const;
    if (emptyTrainStep && emptyBatch[0] !== undefined && emptyBatch[1] !== undefined && emptyBatch[0] !== emptyBatch[1]) {
      const what = { unchanged: 'skips the running update on an empty batch', nan: 'averages over nothing' } as const;
      conventions.push(`emptyBatch: ${source.id} ${what[emptyBatch[0]]} → ${target} ${what[emptyBatch[1]]}`);
    }

    // Conventions that are spec fields are checked by running the target's spec with them set
    // back to the source's (aligned.ts); the others (emptyBatch, frameworkBug) by the fields they touch.
    const named = conventions.map((c) => c.split(':')[0]!);
    const specFields = named.filter((f) => f !== 'emptyBatch' && f !== 'frameworkBug');
    const aligned =
      specFields.length > 0 && specFields.length === named.length
        ? alignedLayer(fixture, naming, alignedSpec(driver.spec(callRank), sourceSpec, specFields), engine)
        : undefined;
    if (aligned) disposers.push(() => aligned.dispose());

    const tol = tolerances(fixture);
    const accumulator = (): Record<CrossField, { worst: number; final: number; ok: boolean; seen: boolean; steps: number }> => ({
      'train output': { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      'eval output': { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      running_mean: { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
      running_var: { worst: 0, final: 0, ok: true, seen: false, steps: 0 },
    });
    const acc = accumulator();
    const alignedAcc = accumulator();
    const record = (field: CrossField, actual: HostTensor, expected: HostTensor, label: string, into = acc) => {
      const c = compareTensors(label, actual, expected, field.endsWith('output') ? tol.output : tol.state);
      const a = into[field];
      a.worst = Math.max(a.worst, c.maxAbsError);
      a.final = c.maxAbsError;
      a.ok &&= c.ok;
      a.seen = true;
      a.steps++;
    };
    for (const [i, step] of m.steps.entries()) {
      const source = fixture.tensors.get(step.input) as HostTensor;
      const moved = moveAxis(source, sourceAxis[0]!, targetAxis);
      const x = engine.fromHost(callRank === rank ? moved : mergeSpatial(moved, targetAxis));
      let out: unknown;
      try {
        out = await driver.step(x, step.mode);
      } catch (e) {
        engine.dispose(x);
        const message = (e as Error).message;
        // An error the framework itself would raise (the adapters mirror them, e.g. MLX and 5-D
        // inputs) means the target refuses the call; any other is the engine's, not a convention.
        if (!isFrameworkError(e)) throw new NotApplicable(`engine ${engine.name} fails step ${i} in ${target}: ${message}`);
        return { kind: 'refused', refusal: { kind: 'step', message, rank }, reason: `${target} refuses step ${i}: ${message}` };
      }
      const host = (await engine.toHost(out)) as HostTensor;
      engine.dispose(...new Set([x, out]));
      const back = (t: HostTensor) => moveAxis(callRank === rank ? t : { ...t, shape: [...moved.shape] }, targetAxis, sourceAxis[0]!);
      const expectedOutput = fixture.tensors.get(step.output!) as HostTensor;
      record(`${step.mode} output`, back(host), expectedOutput, `step ${i} output`);
      if (aligned) record(`${step.mode} output`, back(await aligned.step(callRank === rank ? moved : mergeSpatial(moved, targetAxis), step.mode)), expectedOutput, `step ${i} output`, alignedAcc);
      if (step.mode === 'train') {
        const mean = fixture.tensors.get(step.state![stats.mean]!) as HostTensor;
        const variance = fixture.tensors.get(step.state![stats.variance]!) as HostTensor;
        const s = await driver.runningStats();
        record('running_mean', s.mean, mean, `step ${i} running_mean`);
        record('running_var', s.variance, variance, `step ${i} running_var`);
        if (aligned) {
          const a = await aligned.runningStats();
          record('running_mean', a.mean, mean, `step ${i} running_mean`, alignedAcc);
          record('running_var', a.variance, variance, `step ${i} running_var`, alignedAcc);
        }
      }
    }
    const fields = (Object.keys(acc) as CrossField[]).filter((f) => acc[f].seen).map((field) => ({ field, worst: acc[field].worst, final: acc[field].final, ok: acc[field].ok, steps: acc[field].steps }));
    const touched = new Set(named.flatMap((c) => CONVENTIONS[c] ?? []));
    const explained = aligned
      ? (Object.keys(alignedAcc) as CrossField[]).every((f) => alignedAcc[f].ok)
      : fields.every((f) => f.ok || touched.has(f.field));
    return { kind: 'replayed', fields, conventions, explained };
  } finally {
    for (const dispose of disposers) dispose();
  }
}
