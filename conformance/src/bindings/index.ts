import type { FrameworkName } from '../fixture-schema.js';
import { keras3Binding, tfjsLayersBinding } from './keras.js';
import { mlxBinding } from './mlx.js';
import { torchBinding } from './torch.js';
import type { FrameworkBinding } from './types.js';

const BINDINGS: Partial<Record<FrameworkName, FrameworkBinding>> = {
  torch: torchBinding,
  mlx: mlxBinding,
  keras: keras3Binding,
  'tfjs-layers': tfjsLayersBinding,
};

export function bindingFor(framework: string): FrameworkBinding | undefined {
  return BINDINGS[framework as FrameworkName];
}

export function registerBinding(binding: FrameworkBinding): void {
  BINDINGS[binding.framework] = binding;
}
