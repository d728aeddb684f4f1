import type { FrameworkName } from '../fixture-schema.js';
import { flaxLegacyBinding, flaxLinenBinding, flaxNnxBinding } from './flax.js';
import { keras3Binding, tfjsLayersBinding } from './keras.js';
import { mlxBinding } from './mlx.js';
import { onnxBinding } from './onnx.js';
import { torchBinding } from './torch.js';
import type { FrameworkBinding } from './types.js';

const BINDINGS: Readonly<Partial<Record<FrameworkName, FrameworkBinding>>> = {
  torch: torchBinding,
  mlx: mlxBinding,
  keras: keras3Binding,
  'tfjs-layers': tfjsLayersBinding,
  'flax-linen': flaxLinenBinding,
  'flax-nnx': flaxNnxBinding,
  'flax-legacy': flaxLegacyBinding,
  onnx: onnxBinding,
};

export function bindingFor(framework: string): FrameworkBinding | undefined {
  return BINDINGS[framework as FrameworkName];
}
