import type { CheckpointValue, Engine } from '@normbridge/core';
import type { LoadedModelFixture } from '../model-fixture-load.js';
import type { ModelFixtureStep, ModelProgramName } from '../model-fixture-schema.js';

/** What a program returned for one step, and its whole state after it, by tree path. */
export interface ModelStepOutcome {
  readonly outputs: Readonly<Record<string, CheckpointValue>>;
  readonly state: Readonly<Record<string, CheckpointValue>>;
}

export interface BoundModel {
  step(step: ModelFixtureStep, index: number): Promise<ModelStepOutcome>;
  dispose(): void;
}

/**
 * How one program's fixtures drive its TypeScript port: the binding builds the port from the
 * fixture's initial state and runs each step through the port's own functions (the guide's
 * `trainStep`/`evalStep`, the write-up's module, linen's `init`/`apply`). No maths here.
 * Throws `NotApplicable` to skip (e.g. an engine the port cannot run on).
 */
export interface ModelBinding {
  readonly program: ModelProgramName;
  open(fixture: LoadedModelFixture, engine: Engine<any>): Promise<BoundModel>;
}
