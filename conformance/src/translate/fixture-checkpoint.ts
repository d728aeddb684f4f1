/**
 * A fixture's layer as a one-layer checkpoint in its own framework's names (module `bn`), with
 * the layer's eps and momentum in the `normbridge` metadata: what `normbridge convert` and
 * `batchNormsFromCheckpoint` read, so that a fixture reaches another framework through the
 * same mapping as a user's checkpoint does.
 */
import type { CheckpointValue } from '@normbridge/core';
import { PROFILES, variableName, type FrameworkProfile } from '@normbridge/frameworks';
import { NAMINGS, parseSafetensors, serializeSafetensors, type Framework, type TensorReader } from '@normbridge/safetensors';
import type { LoadedFixture } from '../fixture-load.js';
import type { FrameworkName } from '../fixture-schema.js';
import { NotApplicable } from '../bindings/types.js';

/** Fixture framework → the checkpoint naming its variables use (its profile's; TF.js names weights as Keras). */
export const FIXTURE_NAMING: Partial<Record<FrameworkName, Framework>> = Object.fromEntries(
  Object.values(PROFILES).flatMap((p) => (p.checkpoint ? [[p.id, p.checkpoint.name]] : [])),
);

export const MODULE = 'bn';

/**
 * eps and momentum as the layer's constructor got them (`eps` in PyTorch/MLX, `epsilon`
 * elsewhere): the recorded argument, else the framework's default, which is what it ran with.
 */
export function layerConfig(fixture: LoadedFixture): { epsilon: number; momentum: number | null } {
  const a = fixture.manifest.layer.args as Record<string, unknown>;
  const profile = PROFILES[fixture.manifest.framework.name];
  const eps = a[profile.argumentNames.epsilon];
  const momentum = a[profile.argumentNames.momentum];
  return {
    epsilon: typeof eps === 'number' ? eps : profile.defaults.epsilon,
    momentum: typeof momentum === 'number' || momentum === null ? momentum : profile.defaults.momentum,
  };
}

/** A fixture's state map (framework variable → tensor name) as checkpoint keys under module `bn`. */
function keyOf(naming: Framework, variable: string): string {
  const n = NAMINGS[naming];
  const parts = variable.split('/');
  const leaf = parts.pop()!;
  return n.join({ path: [MODULE], leaf, collection: parts[0] }, n.separators[0]!);
}

export function fixtureCheckpoint(fixture: LoadedFixture, stateMap: Readonly<Record<string, string>>): { reader: TensorReader; naming: Framework } {
  const naming = FIXTURE_NAMING[fixture.manifest.framework.name];
  if (naming === undefined) throw new NotApplicable(`no checkpoint naming for ${fixture.manifest.framework.name} fixtures`);
  const tensors: Record<string, CheckpointValue> = {};
  for (const [variable, name] of Object.entries(stateMap)) {
    const t = fixture.tensors.get(name);
    if (t === undefined) throw new NotApplicable(`tensor "${name}" is missing`);
    tensors[keyOf(naming, variable)] = t;
  }
  const config = layerConfig(fixture);
  const metadata = {
    normbridge: JSON.stringify({ version: 1, framework: naming, batchNorm: { [MODULE]: config } }),
  };
  const bytes = serializeSafetensors(tensors, { metadata });
  return { reader: parseSafetensors(bytes, { name: `${fixture.manifest.framework.name}/${fixture.manifest.case}` }), naming };
}

/** Where a fixture framework keeps running mean and variance in its state map. */
export function statsVariables(framework: FrameworkName): { mean: string; variance: string } {
  const profile = PROFILES[framework] as FrameworkProfile<never, never>;
  return { mean: variableName(profile, 'runningMean'), variance: variableName(profile, 'runningVar') };
}
