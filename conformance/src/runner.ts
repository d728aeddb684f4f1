import { join } from 'node:path';
import { MAX_MANIFEST_BYTES, requireEngineDtype, UnsupportedDtypeError, type Engine } from '@normbridge/core';
import { compareTensors, type TensorComparison, type Tolerance } from './compare.js';
import { createEngineByName, type EngineName } from '@normbridge/engines';
import { listFixtureDirs, loadFixture, MANIFEST_FILE, readRegularFile, type LoadedFixture } from './fixture-load.js';
import { isModelManifest, loadModelFixture, type LoadedModelFixture } from './model-fixture-load.js';
import { modelBindingFor } from './bindings/models.js';
import type { ModelStepOutcome } from './bindings/model-types.js';
import { TOLERANCE_KINDS, toleranceOfKind, type FixtureStep, type ToleranceKind } from './fixture-schema.js';
import { referenceTrajectory, type ReferenceStep } from './fixture-crosscheck.js';
import { bindingFor } from './bindings/index.js';
import { NotApplicable, tensor, type FrameworkBinding, type StepOutcome } from './bindings/types.js';
import { describeFailure, type CaseResult } from './results.js';
import { withTrackedCase } from './tensor-tracking.js';

/**
 * When an engine computes a float16/bfloat16 fixture in float32 (never float64: that is refused,
 * see `requireEngineDtype`), the fixture's own tolerance may be set for another arithmetic;
 * this one is what float32 arithmetic over a few steps of O(1) values reaches, and the report
 * says it was used.
 */
export const FLOAT32_TOLERANCE: Tolerance = { atol: 1e-4, rtol: 1e-4 };

/**
 * The least tolerance a float32 fixture is checked with. A fixture's own tolerance describes its
 * framework's kernels (TF.js's CPU kernels sum float32 values in float64 and are matched bit for
 * bit); an engine that reduces in float32, or in another order, lands a few float32 ulps away,
 * and more on a channel whose standard deviation is small next to its mean (the rounding of the
 * mean is divided by it). Exactness against a framework's own kernels is asserted by the
 * adapters' tests (e.g. the Keras adapter against tfjs-layers), not by this suite.
 */
export const FLOAT32_REDUCTION_FLOOR: Tolerance = { atol: 1e-6, rtol: 1e-5 };

/**
 * Tag of a fixture whose expected values are float32 rounding effects of the framework's formula
 * (fixtures/README.md: a one-pass variance that cancels to 0 on a large-mean channel). An engine
 * that rounds every operation to float32 must match it. An engine whose arithmetic is float64
 * (the reference) computes the true value instead: there such a fixture is n/a, and it must
 * mismatch, or the tag is wrong and the case fails.
 */
export const FLOAT32_ROUNDING_TAG = 'float32-rounding';

export interface ConformanceOptions {
  /** Folders searched (recursively) for fixtures: the committed `fixtures/`, or a user's own. */
  readonly fixtureDirs: readonly string[];
  readonly engines: readonly EngineName[];
  /** Only fixtures of these frameworks (`torch`, `flax-linen`, …, or a prefix such as `flax`). */
  readonly frameworks?: readonly string[];
  /**
   * Only these cases: each pattern is matched against `framework/case` and against `case`;
   * `*` matches any run of characters. @default every case
   */
  readonly cases?: readonly string[];
  /**
   * Replaces every fixture's `atol` and/or `rtol` (all kinds) — for exploring how far off an
   * engine is; each result says it was overridden. @default each fixture's own tolerance
   */
  readonly tolerance?: Partial<Tolerance>;
  /** Called before each case runs, for progress display. */
  readonly onCase?: (done: number, total: number, label: string) => void;
}

/** Per-kind tolerances one case is compared with. */
export type KindTolerances = Readonly<Record<ToleranceKind, Tolerance>>;

/** Whether a case id `framework/case` is selected by a `--case` pattern. */
export function caseMatches(id: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(id) || re.test(id.slice(id.indexOf('/') + 1));
}

export interface ConformanceReport {
  readonly results: CaseResult[];
  /** Fixtures that could not be loaded, with the reason (each also counted as a failure). */
  readonly invalid: { readonly path: string; readonly reason: string }[];
  readonly engines: { readonly name: EngineName; readonly available: boolean; readonly reason?: string }[];
}

/** Reads a manifest's JSON once to tell a model-level fixture from a layer one (a broken file is left to the layer loader to report). */
async function peekManifest(dir: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(await readRegularFile(join(dir, MANIFEST_FILE), MAX_MANIFEST_BYTES)));
  } catch {
    return undefined;
  }
}

/**
 * Every fixture under `dirs` (layer fixtures and model-level ones), filtered by framework and
 * case pattern; fixtures that fail to load are listed in `invalid` with the reason.
 */
export async function loadFixtures(dirs: readonly string[], frameworks?: readonly string[], cases?: readonly string[]) {
  const fixtures: LoadedFixture[] = [];
  const models: LoadedModelFixture[] = [];
  const invalid: { path: string; reason: string }[] = [];
  // A model-level fixture answers to `framework/case` and to `models/case` (its result's id).
  const selected = (m: { framework: { name: string }; case: string }, model = false) => {
    const name = m.framework.name;
    const frameworkOk = !frameworks || frameworks.some((w) => name === w || name.startsWith(`${w}-`));
    const ids = [`${name}/${m.case}`, ...(model ? [`models/${m.case}`] : [])];
    return frameworkOk && (!cases || cases.some((p) => ids.some((id) => caseMatches(id, p))));
  };
  for (const root of dirs) {
    for (const rel of await listFixtureDirs(root)) {
      const dir = join(root, rel);
      try {
        const raw = await peekManifest(dir);
        if (isModelManifest(raw)) {
          const f = await loadModelFixture(join(dir, MANIFEST_FILE), raw);
          if (selected(f.manifest, true)) models.push(f);
          continue;
        }
        const f = await loadFixture(dir);
        if (selected(f.manifest)) fixtures.push(f);
      } catch (err) {
        invalid.push({ path: dir, reason: (err as Error).message });
      }
    }
  }
  return { fixtures, models, invalid };
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const { fixtures, models, invalid } = await loadFixtures(options.fixtureDirs, options.frameworks, options.cases);
  const { results, engines, total } = await runOnEngines(options.engines, fixtures, models, options);
  options.onCase?.(total, total, 'done');
  return { results, invalid, engines };
}

/**
 * Every case on every engine, in that order (the CLI and the browser page alike): an engine
 * that cannot be created is reported unavailable and its cases are `n/a`, never skipped.
 */
export async function runOnEngines(
  names: readonly EngineName[],
  fixtures: readonly LoadedFixture[],
  models: readonly LoadedModelFixture[],
  options: Pick<ConformanceOptions, 'tolerance' | 'onCase'> = {},
): Promise<{ results: CaseResult[]; engines: ConformanceReport['engines']; total: number }> {
  const results: CaseResult[] = [];
  const engines: ConformanceReport['engines'] = [];
  const total = (fixtures.length + models.length) * names.length;
  let done = 0;
  for (const name of names) {
    let engine: Engine<any> | undefined;
    let reason: string | undefined;
    try {
      engine = await createEngineByName(name);
    } catch (err) {
      reason = (err as Error).message.split('\n')[0];
    }
    engines.push({ name, available: engine !== undefined, ...(reason ? { reason } : {}) });
    for (const fixture of fixtures) {
      options.onCase?.(done++, total, `${name} ${fixture.manifest.framework.name}/${fixture.manifest.case}`);
      results.push(engine ? await runCase(fixture, engine, undefined, options.tolerance) : notApplicable(fixture, name, `engine unavailable: ${reason}`));
    }
    for (const model of models) {
      options.onCase?.(done++, total, `${name} model ${model.manifest.case}`);
      results.push(engine ? await runModelCase(model, engine, options.tolerance) : modelResult(model, name, 'n/a', [], `engine unavailable: ${reason}`));
    }
  }
  return { results, engines, total };
}

function caseBase(fixture: LoadedFixture, engine: string, binding?: FrameworkBinding) {
  const m = fixture.manifest;
  return {
    fixture: `${m.framework.name}/${m.case}`,
    framework: m.framework.name,
    profile: binding?.profile(m) ?? `${m.framework.name} ${m.framework.version}`,
    engine,
    producerKind: m.producer.kind,
  };
}

function notApplicable(fixture: LoadedFixture, engine: string, reason: string, binding?: FrameworkBinding): CaseResult {
  return { ...caseBase(fixture, engine, binding), status: 'n/a', reason, comparisons: [], gradientsSkipped: 0 };
}

/** What {@link toleranceFor} reads of a fixture (layer or model). */
interface TolerancedFixture {
  readonly manifest: { readonly tolerance: LoadedFixture['manifest']['tolerance']; readonly dtype: LoadedFixture['manifest']['dtype'] };
}

function perKind(fixture: TolerancedFixture, f: (t: Tolerance) => Tolerance): KindTolerances {
  const own = fixture.manifest.tolerance;
  return Object.fromEntries(TOLERANCE_KINDS.map((k) => [k, f(toleranceOfKind(own, k))])) as KindTolerances;
}

const atLeast = (t: Tolerance, floor: Tolerance): Tolerance => ({ atol: Math.max(t.atol, floor.atol), rtol: Math.max(t.rtol, floor.rtol) });

/** The tolerances of each kind for a fixture on an engine, and why they were changed, if they were. */
export function toleranceFor(fixture: TolerancedFixture, engine: Engine<any>, override?: Partial<Tolerance>): { tol: KindTolerances; widened?: string } {
  if (override && (override.atol !== undefined || override.rtol !== undefined)) {
    const said = [override.atol !== undefined ? `atol ${override.atol}` : '', override.rtol !== undefined ? `rtol ${override.rtol}` : ''].filter(Boolean).join(', ');
    return { tol: perKind(fixture, (t) => ({ ...t, ...override })), widened: `tolerance overridden on the command line (${said}): exploring, not a verdict` };
  }
  const dtype = fixture.manifest.dtype;
  if (engine.capabilities.dtypes.includes(dtype)) {
    const own = perKind(fixture, (t) => t);
    if (dtype !== 'float32' || Object.values(own).every((t) => t.atol >= FLOAT32_REDUCTION_FLOOR.atol && t.rtol >= FLOAT32_REDUCTION_FLOOR.rtol)) {
      return { tol: own };
    }
    return {
      tol: perKind(fixture, (t) => atLeast(t, FLOAT32_REDUCTION_FLOOR)),
      widened: `a float32 fixture's tolerance is below float32 reduction-order rounding (floor atol ${FLOAT32_REDUCTION_FLOOR.atol}, rtol ${FLOAT32_REDUCTION_FLOOR.rtol})`,
    };
  }
  return {
    tol: perKind(fixture, (t) => atLeast(t, FLOAT32_TOLERANCE)),
    widened: `${engine.name} computes ${dtype} fixtures in float32 (atol/rtol at least ${FLOAT32_TOLERANCE.atol})`,
  };
}

/** The reason (core's typed error) when `engine` must refuse a fixture's dtype, else undefined. */
function dtypeRefusal(dtype: LoadedFixture['manifest']['dtype'], engine: Engine<any>): string | undefined {
  try {
    requireEngineDtype(engine, dtype, `a ${dtype} fixture`);
    return undefined;
  } catch (err) {
    if (err instanceof UnsupportedDtypeError) return `${err.name}: ${err.message}`;
    throw err;
  }
}

/** Replays one fixture on one engine and compares every step. */
export async function runCase(fixture: LoadedFixture, engine: Engine<any>, layer?: unknown, override?: Partial<Tolerance>): Promise<CaseResult> {
  const binding = bindingFor(fixture.manifest.framework.name);
  if (!binding) return notApplicable(fixture, engine.name, `no binding for framework ${fixture.manifest.framework.name}`);
  // float64 on an engine without it is refused (core's capability check), never run in float32.
  const refused = dtypeRefusal(fixture.manifest.dtype, engine);
  if (refused) return notApplicable(fixture, engine.name, refused, binding);
  // A bug record (the manifest's `frameworkBug`) is held to the float64 reference instead of the recorded (wrong) behaviour.
  const reference = fixture.manifest.frameworkBug ? referenceTrajectory(fixture) : undefined;
  const { tol, widened } = toleranceFor(fixture, engine, override);
  const comparisons: TensorComparison[] = [];
  let gradientsSkipped = 0;
  const stopped = await withTrackedCase(
    engine,
    (tracked) => binding.open(fixture, tracked, layer),
    (err): CaseResult => {
      if (err instanceof NotApplicable) return notApplicable(fixture, engine.name, err.message, binding);
      if (err instanceof UnsupportedDtypeError) return notApplicable(fixture, engine.name, `${err.name}: ${err.message}`, binding);
      return { ...caseBase(fixture, engine.name, binding), status: 'fail', reason: `could not build the layer: ${(err as Error).message}`, comparisons: [], gradientsSkipped: 0 };
    },
    async (bound) => {
      for (const [i, step] of fixture.manifest.steps.entries()) {
        let outcome: StepOutcome;
        try {
          outcome = await bound.step(step, i);
        } catch (err) {
          if (err instanceof NotApplicable) return notApplicable(fixture, engine.name, `step ${i}: ${err.message}`, binding);
          throw err;
        }
        if (reference) compareWithReference(fixture, step, i, outcome, reference[i]!, tol, comparisons);
        else gradientsSkipped += compareStep(fixture, binding, step, i, outcome, tol, comparisons);
      }
      return undefined;
    },
  );
  if (stopped) return stopped;
  if (reference) comparisons.push(bugShows(fixture, reference, tol.output));
  const ok = comparisons.every((c) => c.ok);
  const result: CaseResult = {
    ...caseBase(fixture, engine.name, binding),
    status: ok ? 'pass' : 'fail',
    comparisons,
    gradientsSkipped,
    ...(widened ? { widened } : {}),
    ...(reference && ok ? { reason: 'framework bug not inherited: matches the float64 reference where the recorded framework misbehaves' } : {}),
  };
  if (isFloat32RoundingOnFloat64(fixture, engine)) {
    if (ok) {
      return { ...result, status: 'fail', reason: `tagged ${FLOAT32_ROUNDING_TAG}, yet ${engine.name} matches it in float64 arithmetic: the expected values are not float32 rounding effects` };
    }
    const mismatch = describeFailure(result).replace(/^FAIL \S+ on \S+: /, '');
    return notApplicable(
      fixture,
      engine.name,
      `${FLOAT32_ROUNDING_TAG}: the expected values are float32 rounding effects, which ${engine.name} does not make (float64 arithmetic): ${mismatch}`,
      binding,
    );
  }
  return result;
}

/** A fixture tagged {@link FLOAT32_ROUNDING_TAG} on an engine whose arithmetic is float64. */
function isFloat32RoundingOnFloat64(fixture: LoadedFixture, engine: Engine<any>): boolean {
  return (fixture.manifest.tags ?? []).includes(FLOAT32_ROUNDING_TAG) && engine.capabilities.arithmetic === 'float64';
}

/** A bug-record step: the adapter must behave as the float64 reference does, not as recorded. */
function compareWithReference(
  fixture: LoadedFixture,
  step: FixtureStep,
  i: number,
  outcome: StepOutcome,
  expected: ReferenceStep,
  tol: KindTolerances,
  out: TensorComparison[],
): void {
  const at = `step ${i} (${step.mode}) vs float64 reference`;
  if (expected.kind === 'skipped') {
    out.push(verdict(at, false, `the reference cannot express this step (${expected.reason})`));
    return;
  }
  if (outcome.kind === 'error') {
    out.push(verdict(at, false, `raised ${outcome.type}: ${outcome.message}`));
    return;
  }
  out.push(compareTensors(`${at} output`, outcome.output, expected.output, tol.output));
  for (const [name, t] of Object.entries(expected.state)) {
    const got = outcome.state[name];
    out.push(compareTensors(`${at} state ${name}`, got && got.shape.length === 0 ? { ...got, shape: [1] } : got, t, tol.state));
  }
}

/** A bug record must show its bug: some recorded step raised, or differs from the reference. */
function bugShows(fixture: LoadedFixture, reference: readonly ReferenceStep[], tol: Tolerance): TensorComparison {
  const shows = fixture.manifest.steps.some((step, i) => {
    const ref = reference[i]!;
    if (step.error) return true;
    if (ref.kind !== 'ok' || !step.output) return false;
    return !compareTensors('recorded', tensor(fixture, step.output), ref.output, tol).ok;
  });
  return verdict('recorded framework bug', shows, shows ? undefined : 'frameworkBug is set, but every recorded step equals the float64 reference');
}

function verdict(label: string, ok: boolean, problem?: string): TensorComparison {
  return { label, ok, maxAbsError: 0, maxRelError: 0, worstIndex: -1, actual: Number.NaN, expected: Number.NaN, ...(problem ? { problem } : {}) };
}

/** Appends the step's comparisons; returns how many gradient checks were skipped. */
function compareStep(
  fixture: LoadedFixture,
  binding: FrameworkBinding,
  step: FixtureStep,
  i: number,
  outcome: StepOutcome,
  tol: KindTolerances,
  out: TensorComparison[],
): number {
  const at = `step ${i} (${step.mode})`;
  if (step.error) {
    if (outcome.kind !== 'error') {
      out.push(verdict(`${at} error`, false, `expected ${step.error.type}: ${step.error.message}, but the step succeeded`));
      return 0;
    }
    const norm = binding.normalizeMessage ?? ((s: string) => s);
    const ok = outcome.type === step.error.type && norm(outcome.message) === norm(step.error.message);
    out.push(verdict(`${at} error`, ok, ok ? undefined : `raised ${outcome.type}: ${outcome.message}; expected ${step.error.type}: ${step.error.message}`));
    return 0;
  }
  if (outcome.kind === 'error') {
    out.push(verdict(`${at}`, false, `raised ${outcome.type}: ${outcome.message}`));
    return 0;
  }
  if (step.output) out.push(compareTensors(`${at} output`, outcome.output, tensor(fixture, step.output), tol.output));
  if (step.loss) out.push(compareTensors(`${at} loss`, outcome.loss, tensor(fixture, step.loss), tol.loss));
  for (const [name, ref] of Object.entries(step.state ?? {})) {
    out.push(compareTensors(`${at} state ${name}`, outcome.state[name], tensor(fixture, ref), tol.state));
  }
  for (const name of Object.keys(outcome.state)) {
    if (step.state && !(name in step.state)) out.push(verdict(`${at} state ${name}`, false, 'not a variable the framework has'));
  }
  if (!step.gradients) return 0;
  if (!outcome.gradients) return Object.keys(step.gradients).length;
  for (const [name, ref] of Object.entries(step.gradients)) {
    out.push(compareTensors(`${at} gradient ${name}`, outcome.gradients[name], tensor(fixture, ref), tol.gradients));
  }
  return 0;
}

export function modelResult(model: LoadedModelFixture, engine: string, status: CaseResult['status'], comparisons: TensorComparison[], reason?: string, widened?: string): CaseResult {
  const m = model.manifest;
  return {
    fixture: `models/${m.case}`,
    framework: m.framework.name,
    profile: `${m.framework.name} ${m.framework.version} model ${m.program.name}`,
    engine,
    producerKind: m.producer.kind,
    status,
    comparisons,
    gradientsSkipped: 0,
    ...(reason ? { reason } : {}),
    ...(widened ? { widened } : {}),
  };
}

/**
 * Replays a model-level fixture through its program's TypeScript port, step after step from the
 * initial state (not teacher-forced: the port's own state carries over, as in a real training
 * run), comparing every output (`loss` with the loss tolerance) and every state path.
 */
export async function runModelCase(model: LoadedModelFixture, engine: Engine<any>, override?: Partial<Tolerance>): Promise<CaseResult> {
  const refused = dtypeRefusal(model.manifest.dtype, engine);
  if (refused) return modelResult(model, engine.name, 'n/a', [], refused);
  const { tol, widened } = toleranceFor(model, engine, override);
  const comparisons: TensorComparison[] = [];
  const stopped = await withTrackedCase(
    engine,
    (tracked) => modelBindingFor(model.manifest.program.name).open(model, tracked),
    (err): CaseResult => {
      if (err instanceof NotApplicable) return modelResult(model, engine.name, 'n/a', [], err.message);
      return modelResult(model, engine.name, 'fail', [], `could not build the program: ${(err as Error).message}`);
    },
    async (bound) => {
      for (const [i, step] of model.manifest.steps.entries()) {
        let outcome: ModelStepOutcome;
        try {
          outcome = await bound.step(step, i);
        } catch (err) {
          if (err instanceof NotApplicable) return modelResult(model, engine.name, 'n/a', [], `step ${i}: ${err.message}`);
          comparisons.push(verdict(`step ${i} (${step.method})`, false, `raised ${(err as Error).name}: ${(err as Error).message}`));
          break;
        }
        const at = `step ${i} (${step.method})`;
        for (const [name, ref] of Object.entries(step.outputs)) {
          comparisons.push(compareTensors(`${at} ${name}`, outcome.outputs[name], model.tensors.get(ref)!, name === 'loss' ? tol.loss : tol.output));
        }
        for (const [path, ref] of Object.entries(step.state)) {
          comparisons.push(compareTensors(`${at} state ${path}`, outcome.state[path], model.tensors.get(ref)!, tol.state));
        }
        for (const path of Object.keys(outcome.state)) {
          if (!(path in step.state)) comparisons.push(verdict(`${at} state ${path}`, false, 'not in the recorded state'));
        }
      }
      return undefined;
    },
  );
  if (stopped) return stopped;
  return modelResult(model, engine.name, comparisons.every((c) => c.ok) ? 'pass' : 'fail', comparisons, undefined, widened);
}
