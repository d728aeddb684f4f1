/**
 * Neutral layers → a target framework's keys and layouts. The emitter never invents values
 * except the PyTorch batch counter (see `translate.ts` for the policy); gaps are reported as
 * missing keys.
 */
import { ConversionError } from '../errors.js';
import type { Issues } from './issues.js';
import { convFromCanonical, linearPerm } from './layouts.js';
import type { Layer } from './model.js';
import type { FrameworkNaming, Role } from './naming.js';
import { permuteRef, type TensorRef } from './tensor-ref.js';

export interface EmittedTensor {
  readonly key: string;
  readonly ref: TensorRef;
  readonly role: Role;
  readonly layer: Layer;
}

/** Joins a module path and a leaf with the target's separator, refusing ambiguous segments. */
export function targetKey(naming: FrameworkNaming, separator: string, path: readonly string[], role: Role): string {
  const leaf = role === 'count' ? naming.leaves.count : naming.leaves[role];
  if (leaf === undefined) throw new ConversionError('invalid-config', `${naming.framework} has no ${role} variable`);
  for (const segment of path) {
    if (segment === '' || segment.includes(separator)) {
      throw new ConversionError(
        'path-ambiguous',
        `module path segment ${JSON.stringify(segment)} cannot be joined with "${separator}" for ${naming.framework} without changing the path`,
        path.join('/'),
      );
    }
  }
  return naming.join({ path, leaf, collection: naming.collectionOf?.(role) }, separator);
}

/** The counter tensor PyTorch expects: int64 of shape []. */
export function counterRef(value: bigint, sourceKey: string): TensorRef {
  return {
    dtype: 'I64',
    shape: [],
    sourceKey,
    load: async () => new Uint8Array(BigInt64Array.of(value).buffer),
  };
}

export function emitLayers(naming: FrameworkNaming, separator: string, layers: readonly Layer[], issues: Issues): EmittedTensor[] {
  const out: EmittedTensor[] = [];
  const seen = new Map<string, string>();
  const push = (layer: Layer, role: Role, ref: TensorRef) => {
    const key = targetKey(naming, separator, layer.path, role);
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new ConversionError('key-collision', `both ${previous} and ${ref.sourceKey} would be written here`, key);
    }
    seen.set(key, ref.sourceKey);
    out.push({ key, ref, role, layer });
  };
  for (const layer of layers) {
    if (layer.kind === 'batchnorm') {
      const affine = [layer.scale, layer.bias].filter((t) => t !== undefined).length;
      for (const role of ['scale', 'bias', 'mean', 'variance'] as const) {
        const ref = layer[role];
        if (ref !== undefined) push(layer, role, ref);
        else if ((role === 'mean' || role === 'variance') || (naming.affinePaired && affine === 1)) {
          issues.missing.push({
            key: targetKey(naming, separator, layer.path, role),
            reason:
              role === 'mean' || role === 'variance'
                ? `the source has no running ${role === 'mean' ? 'mean' : 'variance'} for this layer`
                : `${naming.framework} stores weight and bias together, and the source has only one of them`,
          });
        }
      }
      if (naming.leaves.count !== undefined) {
        const label = layer.count?.sourceKey ?? `(created for ${layer.path.join('.')})`;
        push(layer, 'count', counterRef(layer.numBatchesTracked ?? 0n, label));
      }
    } else {
      const rank = layer.kernel.shape.length;
      const perm = layer.kind === 'conv' ? convFromCanonical(naming.convLayout, rank) : linearPerm(naming.linearLayout);
      push(layer, 'kernel', permuteRef(layer.kernel, perm));
      if (layer.bias !== undefined) push(layer, 'kernelBias', layer.bias);
    }
  }
  return out;
}
