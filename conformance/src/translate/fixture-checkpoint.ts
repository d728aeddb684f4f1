/**
 * A fixture's layer as a one-layer checkpoint in its own framework's names (module `bn`), with
 * the layer's eps and momentum in the `normbridge` metadata: what `normbridge convert` and
 * `batchNormsFromCheckpoint` read, so that a fixture reaches another framework through the
 * same mapping as a user's checkpoint does.
 */
import { defineSpec, initialState, type CheckpointValue, type HostTensor } from '@normbridge/core';
import { PROFILES } from '@normbridge/frameworks';
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

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}

/** A fixture's state map (framework variable → tensor name) as checkpoint keys under module `bn`. */
function keyOf(naming: Framework, variable: string): string {
  const n = NAMINGS[naming];
  const parts = variable.split('/');
  const leaf = parts.pop()!;
  return n.join({ path: [MODULE], leaf, collection: parts[0] }, n.separators[0]!);
}

/**
 * `override` replaces the layer's eps/momentum (source convention) in the metadata, and
 * `completeAffine` adds the identity scale or bias a half-affine layer lacks: the nearest
 * configuration a target can express, where it cannot express the layer's own.
 */
export function fixtureCheckpoint(
  fixture: LoadedFixture,
  stateMap: Readonly<Record<string, string>>,
  override: { readonly epsilon?: number; readonly momentum?: number; readonly completeAffine?: boolean } = {},
): { reader: TensorReader; naming: Framework } {
  const naming = FIXTURE_NAMING[fixture.manifest.framework.name];
  if (naming === undefined) throw new NotApplicable(`no checkpoint naming for ${fixture.manifest.framework.name} fixtures`);
  const tensors: Record<string, CheckpointValue> = {};
  for (const [variable, name] of Object.entries(stateMap)) {
    const t = fixture.tensors.get(name);
    if (t === undefined) throw new NotApplicable(`tensor "${name}" is missing`);
    tensors[keyOf(naming, variable)] = t;
  }
  if (override.completeAffine) {
    // The identity for the missing half: a fresh layer's scale (ones) or bias (zeros).
    const identity = identityAffine(tensors[keyOf(naming, variableOf(naming, 'mean'))]!.shape);
    tensors[keyOf(naming, variableOf(naming, 'scale'))] ??= identity.scale;
    tensors[keyOf(naming, variableOf(naming, 'bias'))] ??= identity.bias;
  }
  const config = { ...layerConfig(fixture), ...pick(override, ['epsilon', 'momentum']) };
  const metadata = {
    normbridge: JSON.stringify({ version: 1, framework: naming, batchNorm: { [MODULE]: config } }),
  };
  const bytes = serializeSafetensors(tensors, { metadata });
  return { reader: parseSafetensors(bytes, { name: `${fixture.manifest.framework.name}/${fixture.manifest.case}` }), naming };
}

/** A fresh layer's scale and bias (core's `initialState`): what a half-affine layer's missing half is taken to be. */
export function identityAffine(featureShape: readonly number[]): { scale: HostTensor; bias: HostTensor } {
  const fresh = initialState(defineSpec({ featureAxes: [1] }), featureShape, 'float32');
  return { scale: fresh.scale!, bias: fresh.bias! };
}

/** A role's variable in a fixture framework's state map (`running_mean`, `batch_stats/mean`, …). */
export function variableOf(naming: Framework, role: 'scale' | 'bias' | 'mean' | 'variance'): string {
  const n = NAMINGS[naming];
  const c = n.collectionOf?.(role);
  return c === undefined ? n.leaves[role] : `${c}/${n.leaves[role]}`;
}

/** Where a fixture framework keeps running mean and variance in its state map. */
export function statsVariables(naming: Framework): { mean: string; variance: string } {
  return { mean: variableOf(naming, 'mean'), variance: variableOf(naming, 'variance') };
}

/**
 * Whether the layer has a scale without a bias or a bias without a scale (Flax's `use_bias`,
 * `use_scale`), which frameworks with one `affine` switch cannot express.
 */
export function hasHalfAffine(fixture: LoadedFixture, naming: Framework): boolean {
  const state = fixture.manifest.initialState;
  return (variableOf(naming, 'scale') in state) !== (variableOf(naming, 'bias') in state);
}
