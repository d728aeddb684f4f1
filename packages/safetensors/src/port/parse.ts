/**
 * Source keys → neutral layers, for any framework described by a {@link FrameworkNaming}.
 * Keys are grouped by module path; a group is a BatchNorm when it holds running statistics, a
 * convolution or dense layer when it holds a kernel of rank ≥ 3 or 2. Anything else is reported
 * as unexpected, never silently dropped.
 */
import { emptyIssues, type Issues } from './issues.js';
import { convToCanonical, linearPerm } from './layouts.js';
import type { BatchNormLayer, Layer } from './model.js';
import { BATCH_NORM_ROLES, type FrameworkNaming, type Role } from './naming.js';
import { permuteRef, type TensorRef } from './tensor-ref.js';

interface Group {
  readonly path: readonly string[];
  /** `[collection, leaf]` (as JSON, so no character of a name can merge two slots) → tensor. */
  readonly leaves: Map<string, TensorRef>;
}

export interface ParseResult {
  readonly layers: Layer[];
  readonly issues: Issues;
  readonly separator: string;
}

const slot = (collection: string | undefined, leaf: string) => JSON.stringify([collection ?? null, leaf]);

export function parseKeys(naming: FrameworkNaming, tensors: readonly TensorRef[], separator?: string): ParseResult {
  const sep = separator ?? naming.detectSeparator(tensors.map((t) => t.sourceKey));
  const issues = emptyIssues();
  const groups = new Map<string, Group>();
  for (const t of tensors) {
    const parts = naming.split(t.sourceKey, sep);
    if (parts === undefined) {
      issues.unexpected.push({ key: t.sourceKey, reason: `not a ${naming.framework} variable name` });
      continue;
    }
    // JSON, not a join: a separator character inside a name (even NUL) cannot merge two modules.
    const id = JSON.stringify(parts.path);
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = { path: parts.path, leaves: new Map() }));
    const s = slot(parts.collection, parts.leaf);
    if (g.leaves.has(s)) {
      // Two keys that name one variable (e.g. `bn/mean` and `bn/mean/value` in NNX state).
      issues.unexpected.push({ key: t.sourceKey, reason: `names the same variable as ${g.leaves.get(s)!.sourceKey}` });
      continue;
    }
    g.leaves.set(s, t);
  }

  const roleSlot = (role: Role): string | undefined => {
    const leaf = role === 'count' ? naming.leaves.count : naming.leaves[role];
    return leaf === undefined ? undefined : slot(naming.collectionOf?.(role), leaf);
  };
  const layers: Layer[] = [];
  for (const g of groups.values()) {
    const take = (role: Role): TensorRef | undefined => {
      const s = roleSlot(role);
      if (s === undefined) return undefined;
      const t = g.leaves.get(s);
      g.leaves.delete(s);
      return t;
    };
    const hasStats = (['mean', 'variance', 'count'] as const).some((r) => {
      const s = roleSlot(r);
      return s !== undefined && g.leaves.has(s);
    });
    const kernelSlot = roleSlot('kernel')!;
    let layer: Layer | undefined;
    if (hasStats) {
      const bn: Record<string, TensorRef | undefined> = {};
      for (const role of BATCH_NORM_ROLES) bn[role] = take(role);
      layer = { kind: 'batchnorm', path: g.path, ...bn } as BatchNormLayer;
      checkBatchNormShapes(layer, issues);
    } else if (g.leaves.has(kernelSlot)) {
      const kernel = g.leaves.get(kernelSlot)!;
      const rank = kernel.shape.length;
      if (rank >= 3) {
        take('kernel');
        const canonical = permuteRef(kernel, convToCanonical(naming.convLayout, rank));
        layer = { kind: 'conv', path: g.path, kernel: canonical, bias: take('kernelBias') };
      } else if (rank === 2) {
        take('kernel');
        const canonical = permuteRef(kernel, linearPerm(naming.linearLayout));
        layer = { kind: 'linear', path: g.path, kernel: canonical, bias: take('kernelBias') };
      }
      if (layer !== undefined && layer.bias !== undefined && layer.kind !== 'batchnorm') {
        const out = layer.kernel.shape[0]!;
        if (layer.bias.shape.length !== 1 || layer.bias.shape[0] !== out) {
          issues.shapeMismatches.push({
            key: layer.bias.sourceKey,
            expected: [out],
            actual: layer.bias.shape,
            reason: `bias must have one value per output channel of ${layer.kernel.sourceKey}`,
          });
        }
      }
    }
    if (layer !== undefined) layers.push(layer);
    const reason = describeLeftovers(naming, layer !== undefined, hasStats, g);
    for (const t of g.leaves.values()) issues.unexpected.push({ key: t.sourceKey, reason });
  }
  return { layers, issues, separator: sep };
}

function describeLeftovers(naming: FrameworkNaming, converted: boolean, hasStats: boolean, g: Group): string {
  if (converted) return `not a variable of a ${hasStats ? 'BatchNorm' : 'convolution or dense'} layer in ${naming.framework}`;
  const scale = g.leaves.get(slot(naming.collectionOf?.('scale'), naming.leaves.scale));
  const kernel = g.leaves.get(slot(naming.collectionOf?.('kernel'), naming.leaves.kernel));
  // PyTorch and MLX call both a scale and a kernel `weight`: its rank tells which it could be.
  if (scale !== undefined && (scale !== kernel || scale.shape.length === 1)) {
    return 'normalisation parameters without running statistics (LayerNorm, GroupNorm, or BatchNorm without tracking) are not converted';
  }
  if (kernel !== undefined) return `a ${naming.leaves.kernel} of rank ${kernel.shape.length} is neither a convolution nor a dense kernel`;
  return 'not part of a BatchNorm, convolution or dense layer';
}

function checkBatchNormShapes(layer: BatchNormLayer, issues: Issues): void {
  const perChannel = [layer.mean, layer.variance, layer.scale, layer.bias].filter((t): t is TensorRef => t !== undefined);
  const reference = perChannel.find((t) => t.shape.length === 1);
  const channels = reference?.shape[0];
  for (const t of perChannel) {
    if (t.shape.length !== 1 || (channels !== undefined && t.shape[0] !== channels)) {
      issues.shapeMismatches.push({
        key: t.sourceKey,
        expected: channels === undefined ? [] : [channels],
        actual: t.shape,
        reason: reference === undefined ? 'BatchNorm tensors must be vectors' : `BatchNorm tensors must all match ${reference.sourceKey}`,
      });
    }
  }
  const c = layer.count;
  if (c !== undefined && (!/^[IU]/.test(c.dtype) || c.shape.reduce((a, d) => a * d, 1) !== 1)) {
    issues.shapeMismatches.push({
      key: c.sourceKey,
      expected: [],
      actual: c.shape,
      reason: `the batch counter must be one integer, got ${c.dtype}[${c.shape.join(', ')}]`,
    });
  }
}
