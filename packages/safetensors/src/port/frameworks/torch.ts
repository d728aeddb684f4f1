import { joinPlain, splitPlain, type FrameworkNaming } from '../naming.js';

/**
 * PyTorch `state_dict` keys: dotted module paths (`layer1.0.bn1.running_var`, Sequential
 * children by index). Conv weights OIHW, Linear weights [out, in]; BatchNorm keeps an int64
 * `num_batches_tracked` of shape [].
 */
export const torchNaming: FrameworkNaming = {
  framework: 'torch',
  formatTag: 'pt',
  momentumConvention: 'batch-weight',
  defaults: { epsilon: 1e-5, momentum: 0.1 },
  leaves: {
    scale: 'weight',
    bias: 'bias',
    mean: 'running_mean',
    variance: 'running_var',
    count: 'num_batches_tracked',
    kernel: 'weight',
    kernelBias: 'bias',
  },
  convLayout: 'OI*',
  linearLayout: 'OI',
  affinePaired: true,
  separators: ['.'],
  split: splitPlain,
  join: joinPlain,
  detectSeparator: () => '.',
};
