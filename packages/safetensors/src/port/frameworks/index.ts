import type { Framework } from '../frameworks.js';
import type { FrameworkNaming } from '../naming.js';
import { flaxNaming } from './flax.js';
import { kerasNaming } from './keras.js';
import { mlxNaming } from './mlx.js';
import { nnxNaming } from './nnx.js';
import { torchNaming } from './torch.js';

export const NAMINGS: Readonly<Record<Framework, FrameworkNaming>> = {
  torch: torchNaming,
  flax: flaxNaming,
  nnx: nnxNaming,
  mlx: mlxNaming,
  keras: kerasNaming,
};
