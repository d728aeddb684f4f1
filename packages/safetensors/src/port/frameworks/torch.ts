import { torch } from '@normbridge/frameworks';
import { joinPlain, namingOf, splitPlain } from '../naming.js';

/**
 * PyTorch `state_dict` keys: dotted module paths (`layer1.0.bn1.running_var`, Sequential
 * children by index). BatchNorm keeps an int64 `num_batches_tracked` of shape [].
 */
export const torchNaming = namingOf(torch, { split: splitPlain, join: joinPlain, detectSeparator: () => '.' });
