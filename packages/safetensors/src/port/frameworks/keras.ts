import { keras } from '@normbridge/frameworks';
import { joinPlain, namingOf, type KeyParts } from '../naming.js';

/** tf.keras variable names end in an output index (`gamma:0`); Keras 3 paths do not. */
const OUTPUT_SUFFIX = /:\d+$/;

/**
 * Keras variable paths (`<layer>/gamma|beta|moving_mean|moving_variance`, `<layer>/kernel|bias`),
 * as Keras 3 `variable.path` and legacy h5 `weight_names` spell them; a tf.keras `:0` suffix is
 * accepted on reading. Keras 3 `.weights.h5` stores variables by position (`vars/0..3`), which
 * no name-based port can read (docs/semantics.md#porting-a-checkpoint).
 */
export const kerasNaming = namingOf(keras, {
  split(key: string, separator: string): KeyParts | undefined {
    const segments = key.split(separator);
    const leaf = segments.pop()!.replace(OUTPUT_SUFFIX, '');
    return { path: segments, leaf };
  },
  join: joinPlain,
  detectSeparator: () => '/',
});
