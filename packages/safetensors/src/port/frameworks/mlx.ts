import { mlx } from '@normbridge/frameworks';
import { joinPlain, namingOf, splitPlain } from '../naming.js';

/**
 * MLX `tree_flatten(model.parameters())` names, as `save_weights` writes them: dotted paths
 * like PyTorch (`bn.running_mean`, lists by index `layers.1.weight`), but no counter.
 */
export const mlxNaming = namingOf(mlx, { split: splitPlain, join: joinPlain, detectSeparator: () => '.' });
