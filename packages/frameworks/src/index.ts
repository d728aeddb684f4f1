/**
 * `@normbridge/frameworks`: what each framework means by BatchNorm, one profile per file.
 * core says what BatchNorm is; a profile says how one framework's arguments, names and
 * conventions map onto it; adapters only shape the API around a profile.
 */
import { flaxLegacy } from './flax-legacy.js';
import { flaxLinen } from './flax-linen.js';
import { flaxNnx } from './flax-nnx.js';
import { keras } from './keras.js';
import { mlx } from './mlx.js';
import { onnx } from './onnx.js';
import type { CheckpointName, FrameworkId, FrameworkProfile } from './profile.js';
import { tfjsLayers } from './tfjs-layers.js';
import { torch } from './torch.js';

export * from './profile.js';
export * from './momentum.js';
export * from './torch.js';
export * from './mlx.js';
export * from './keras.js';
export * from './tfjs-layers.js';
export * from './flax-family.js';
export * from './flax-linen.js';
export * from './flax-nnx.js';
export * from './flax-legacy.js';
export * from './onnx.js';

/** Every profile by id. Arguments are typed loosely here: a caller holding JSON (a fixture) passes it as is. */
export const PROFILES: Readonly<Record<FrameworkId, FrameworkProfile<any, any, any>>> = {
  torch,
  'flax-linen': flaxLinen,
  'flax-nnx': flaxNnx,
  'flax-legacy': flaxLegacy,
  mlx,
  keras,
  'tfjs-layers': tfjsLayers,
  onnx,
};

/** The profile whose checkpoint naming `normbridge convert --from/--to <name>` means. */
export const CHECKPOINT_PROFILES: Readonly<Record<CheckpointName, FrameworkProfile<any, any, any>>> = {
  torch,
  flax: flaxLinen,
  nnx: flaxNnx,
  mlx,
  keras,
};

export function isFrameworkId(v: unknown): v is FrameworkId {
  return typeof v === 'string' && Object.hasOwn(PROFILES, v);
}

export function isCheckpointName(v: unknown): v is CheckpointName {
  return typeof v === 'string' && Object.hasOwn(CHECKPOINT_PROFILES, v);
}
export * from './fixture-call.js';
