import type { FrameworkName } from '../fixture-schema.js';
import { torchBinding } from './torch.js';
import type { FrameworkBinding } from './types.js';

const BINDINGS: Partial<Record<FrameworkName, FrameworkBinding>> = {
  torch: torchBinding,
};

export function bindingFor(framework: string): FrameworkBinding | undefined {
  return BINDINGS[framework as FrameworkName];
}

export function registerBinding(binding: FrameworkBinding): void {
  BINDINGS[binding.framework] = binding;
}
