import { joinPlain, splitPlain, type FrameworkNaming } from '../naming.js';

/**
 * MLX `tree_flatten(model.parameters())` names, as `save_weights` writes them: dotted paths
 * like PyTorch (`bn.running_mean`, lists by index `layers.1.weight`), but no counter, conv
 * weights OHWI (channels last) and Linear weights [out, in].
 */
export const mlxNaming: FrameworkNaming = {
  framework: 'mlx',
  formatTag: 'mlx',
  momentumConvention: 'batch-weight',
  defaults: { epsilon: 1e-5, momentum: 0.1 },
  leaves: {
    scale: 'weight',
    bias: 'bias',
    mean: 'running_mean',
    variance: 'running_var',
    kernel: 'weight',
    kernelBias: 'bias',
  },
  convLayout: 'O*I',
  linearLayout: 'OI',
  affinePaired: true,
  separators: ['.'],
  split: splitPlain,
  join: joinPlain,
  detectSeparator: () => '.',
};
