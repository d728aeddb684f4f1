import type { CheckpointValue } from '@normbridge/core';
import { openCheckpoint } from './open-checkpoint.js';

export interface ReadCheckpointOptions {
  /**
   * Keep only keys starting with this prefix, and strip it (PyTorch's `prefix` of
   * `load_state_dict`: `'layer1.0.bn1.'` selects that module's state).
   * @default '' (every tensor)
   */
  readonly prefix?: string;
}

/**
 * Reads a whole checkpoint (a `.safetensors` file or a sharded `model.safetensors.index.json`)
 * as a state dict: F64 stays float64, every other float dtype becomes float32, I64 becomes an
 * int64 tensor (PyTorch's `num_batches_tracked`), other integer dtypes float32 values. What
 * `loadStateDict` / `loadWeights` / `setWeights` of the adapters take.
 */
export async function readCheckpoint(path: string, options: ReadCheckpointOptions = {}): Promise<Record<string, CheckpointValue>> {
  const prefix = options.prefix ?? '';
  const reader = await openCheckpoint(path);
  try {
    const out: Record<string, CheckpointValue> = {};
    for (const info of reader.tensors) {
      if (!info.name.startsWith(prefix)) continue;
      const key = info.name.slice(prefix.length);
      const shape = [...info.shape];
      if (info.dtype === 'I64') {
        out[key] = { shape, data: (await reader.native(info.name)) as BigInt64Array, dtype: 'int64' };
      } else if (info.dtype === 'F64') {
        out[key] = { shape, data: (await reader.native(info.name)) as Float64Array, dtype: 'float64' };
      } else {
        out[key] = { shape, data: await reader.float32(info.name), dtype: 'float32' };
      }
    }
    return out;
  } finally {
    await reader.close();
  }
}
