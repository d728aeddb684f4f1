import type { CheckpointValue, Engine, HostTensor } from '@normbridge/core';
import type { LoadedFixture } from '../fixture-load.js';
import type { FixtureManifest, FixtureStep, FrameworkName } from '../fixture-schema.js';

/** What the framework exposes after one step, in its own variable names. */
export type StepOutcome =
  | {
      readonly kind: 'ok';
      /** Absent only for a loss step (a whole training step: `loss` and `state`). */
      readonly output?: HostTensor;
      /** The scalar loss of a loss step (`train_on_batch`). */
      readonly loss?: HostTensor;
      /** Every variable of the layer after the step, by framework name. */
      readonly state: Readonly<Record<string, CheckpointValue>>;
      /** Present when the step had a cotangent and the engine computes gradients. */
      readonly gradients?: Readonly<Record<string, HostTensor>>;
    }
  | { readonly kind: 'error'; readonly type: string; readonly message: string };

/** One fixture bound to one adapter layer on one engine. */
export interface BoundCase {
  step(step: FixtureStep, index: number): Promise<StepOutcome>;
  dispose(): void;
}

/**
 * How one framework's fixtures drive its adapter. Bindings only translate fixture vocabulary
 * (constructor arguments, call arguments, variable names) into adapter calls; they hold no maths.
 */
export interface FrameworkBinding {
  readonly framework: FrameworkName;
  /** The matrix row: framework plus version profile, e.g. `mlx 0.32.1`. */
  profile(manifest: FixtureManifest): string;
  /**
   * Builds the layer with the fixture's arguments and initial state, or, given `layer` (a
   * user's own adapter layer, for `toMatchFixture`), loads the initial state into that one.
   * Throws {@link NotApplicable} to skip.
   */
  open(fixture: LoadedFixture, engine: Engine<any>, layer?: unknown): Promise<BoundCase>;
  /** Brings a framework message into the adapter's spelling before comparing (e.g. `torch.Size([1, 3])` → `[1, 3]`). */
  normalizeMessage?(message: string): string;
}

/** A fixture (or a part of it) that cannot run on this engine or through this adapter; shown as n/a. */
export class NotApplicable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotApplicable';
  }
}

/**
 * The user's own layer handed to {@link FrameworkBinding.open} (`undefined` when none was): it
 * must be a `Class` (the fixture's layer, named in the skip reason by `what`, e.g.
 * "a flax.linen.BatchNorm"), else the fixture is not applicable to it.
 */
export function givenLayer<L>(given: unknown, Class: abstract new (...args: any[]) => L, what: string): L | undefined {
  if (given === undefined) return undefined;
  if (!(given instanceof Class)) throw new NotApplicable(`the fixture is ${what}`);
  return given;
}

/** Reads a tensor back from any engine (core's `toHostAsync`). */
export { toHostAsync as toHost } from '@normbridge/core';

/** Error type as the framework would name it: adapters set `pythonType`, else the class name. */
export function errorOutcome(err: unknown): StepOutcome {
  const e = err as { pythonType?: string; name?: string; message?: string };
  return { kind: 'error', type: e.pythonType ?? e.name ?? 'Error', message: e.message ?? String(err) };
}

export function tensor(fixture: LoadedFixture, name: string): CheckpointValue {
  const t = fixture.tensors.get(name);
  if (!t) throw new NotApplicable(`tensor "${name}" is missing from ${fixture.manifest.tensors}`);
  return t;
}

export function floatTensor(fixture: LoadedFixture, name: string): HostTensor {
  const t = tensor(fixture, name);
  if (t.dtype === 'int64') throw new NotApplicable(`tensor "${name}" is int64 where a float tensor is expected`);
  return t;
}

/** Framework variable name → fixture tensor, for a state map of the manifest. */
export function stateValues(fixture: LoadedFixture, map: Readonly<Record<string, string>>): Record<string, CheckpointValue> {
  return Object.fromEntries(Object.entries(map).map(([k, name]) => [k, tensor(fixture, name)]));
}
