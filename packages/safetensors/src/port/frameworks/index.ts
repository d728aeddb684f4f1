/**
 * The frameworks whose checkpoint names normbridge translates (`normbridge convert --from/--to`),
 * and each one's naming. The names and their profiles come from `@normbridge/frameworks`.
 */
import { CHECKPOINT_NAMES, isCheckpointName, type CheckpointName } from '@normbridge/frameworks';
import type { FrameworkNaming } from '../naming.js';
import { flaxNaming } from './flax.js';
import { kerasNaming } from './keras.js';
import { mlxNaming } from './mlx.js';
import { nnxNaming } from './nnx.js';
import { torchNaming } from './torch.js';

export const FRAMEWORKS = CHECKPOINT_NAMES;
export type Framework = CheckpointName;
export const isFramework: (v: unknown) => v is Framework = isCheckpointName;

export const NAMINGS: Readonly<Record<Framework, FrameworkNaming>> = {
  torch: torchNaming,
  flax: flaxNaming,
  nnx: nnxNaming,
  mlx: mlxNaming,
  keras: kerasNaming,
};
