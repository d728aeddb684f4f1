import { openSafetensors } from './file-reader.js';
import type { TensorReader } from './reader.js';
import { openShardedSafetensors } from './sharded.js';

/**
 * Opens a checkpoint lazily: a `.json` path is a sharded index (`model.safetensors.index.json`),
 * anything else a single safetensors file.
 */
export function openCheckpoint(path: string): Promise<TensorReader> {
  return path.endsWith('.json') ? openShardedSafetensors(path) : openSafetensors(path);
}
