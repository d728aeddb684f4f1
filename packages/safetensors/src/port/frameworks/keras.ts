import { joinPlain, type FrameworkNaming, type KeyParts } from '../naming.js';

/** tf.keras variable names end in an output index (`gamma:0`); Keras 3 paths do not. */
const OUTPUT_SUFFIX = /:\d+$/;

/**
 * Keras variable paths (`<layer>/gamma|beta|moving_mean|moving_variance`, `<layer>/kernel|bias`),
 * as Keras 3 `variable.path` and legacy h5 `weight_names` spell them; a tf.keras `:0` suffix is
 * accepted on reading. Conv kernels HWIO, Dense kernels [in, out]. Keras 3 `.weights.h5`
 * stores variables by position (`vars/0..3`), which no name-based port can read
 * (docs/semantics.md#porting-a-checkpoint).
 */
export const kerasNaming: FrameworkNaming = {
  framework: 'keras',
  formatTag: 'tf',
  momentumConvention: 'decay',
  defaults: { epsilon: 1e-3, momentum: 0.99 },
  leaves: {
    scale: 'gamma',
    bias: 'beta',
    mean: 'moving_mean',
    variance: 'moving_variance',
    kernel: 'kernel',
    kernelBias: 'bias',
  },
  convLayout: '*IO',
  linearLayout: 'IO',
  affinePaired: false,
  separators: ['/'],
  split(key: string, separator: string): KeyParts | undefined {
    const segments = key.split(separator);
    const leaf = segments.pop()!.replace(OUTPUT_SUFFIX, '');
    return { path: segments, leaf };
  },
  join: joinPlain,
  detectSeparator: () => '/',
};
