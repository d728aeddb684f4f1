import { SafetensorsError } from '../errors.js';
import { layoutFile } from '../format/serialize.js';
import { entriesOf, prepareTensor, type TensorCollection } from './tensor-input.js';

export interface SerializeOptions {
  /**
   * String metadata stored as `__metadata__`.
   * @default undefined (no `__metadata__` entry)
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/**
 * Serializes tensors to a complete safetensors file in memory (the same bytes the file writer
 * produces). Synchronous, so lazy inputs are refused; tfjs tensors are read with `dataSync()`.
 */
export function serializeSafetensors(tensors: TensorCollection, options: SerializeOptions = {}): Uint8Array {
  const prepared = entriesOf(tensors).map(([name, input]) => prepareTensor(name, input, false));
  for (const p of prepared) {
    if (p.lazy) {
      throw new SafetensorsError('invalid-argument', 'lazy tensors cannot be serialized synchronously; use writeSafetensorsFile', {
        key: p.name,
      });
    }
  }
  const byName = new Map(prepared.map((p) => [p.name, p]));
  const layout = layoutFile(prepared, options.metadata);
  const out = new Uint8Array(layout.totalLength);
  out.set(layout.head, 0);
  for (const p of layout.placed) {
    out.set(byName.get(p.name)!.bytes() as Uint8Array, layout.head.length + p.begin);
  }
  return out;
}
