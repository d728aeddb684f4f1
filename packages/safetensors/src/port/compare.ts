/**
 * Key-set comparison in the manner of PyTorch's `load_state_dict(strict=True)`: what an
 * expected set (a checkpoint of the target model) has that the actual one lacks, the reverse,
 * and keys present in both with different shapes.
 */
import type { MissingKey, ShapeMismatch, UnexpectedKey } from './issues.js';

export interface KeyComparison {
  readonly missing: MissingKey[];
  readonly unexpected: UnexpectedKey[];
  readonly shapeMismatches: ShapeMismatch[];
  /** Keys in both whose dtypes differ (not an error: loaders cast). */
  readonly dtypeDifferences: { readonly key: string; readonly expected: string; readonly actual: string }[];
}

export interface KeyShape {
  readonly shape: readonly number[];
  readonly dtype?: string | undefined;
}

export function compareKeySets(
  actual: ReadonlyMap<string, KeyShape>,
  expected: ReadonlyMap<string, KeyShape>,
  expectedName = 'the template',
): KeyComparison {
  const out: KeyComparison = { missing: [], unexpected: [], shapeMismatches: [], dtypeDifferences: [] };
  for (const [key, e] of [...expected].sort(byKey)) {
    const a = actual.get(key);
    if (a === undefined) {
      out.missing.push({ key, reason: `${expectedName} has this key; the output does not` });
      continue;
    }
    if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
      out.shapeMismatches.push({ key, expected: e.shape, actual: a.shape, reason: `shape differs from ${expectedName}` });
    }
    if (a.dtype !== undefined && e.dtype !== undefined && a.dtype !== e.dtype) {
      out.dtypeDifferences.push({ key, expected: e.dtype, actual: a.dtype });
    }
  }
  for (const [key] of [...actual].sort(byKey)) {
    if (!expected.has(key)) out.unexpected.push({ key, reason: `${expectedName} has no such key` });
  }
  return out;
}

function byKey<T>(a: readonly [string, T], b: readonly [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
