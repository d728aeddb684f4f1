import type { ConvLayout, LinearLayout } from './naming.js';
import { inversePerm } from './tensor-ref.js';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** Permutation taking a kernel in `layout` to the canonical [O, I, ...spatial]. */
export function convToCanonical(layout: ConvLayout, rank: number): number[] {
  switch (layout) {
    case 'OI*':
      return range(0, rank);
    case '*IO':
      return [rank - 1, rank - 2, ...range(0, rank - 2)];
    case 'O*I':
      return [0, rank - 1, ...range(1, rank - 1)];
  }
}

export function convFromCanonical(layout: ConvLayout, rank: number): number[] {
  return inversePerm(convToCanonical(layout, rank));
}

/** Permutation taking a dense kernel in `layout` to the canonical [out, in] (its own inverse). */
export function linearPerm(layout: LinearLayout): number[] {
  return layout === 'OI' ? [0, 1] : [1, 0];
}

/** Human-readable layout names for reports (rank 4 gets the familiar letters). */
export function convLayoutName(layout: ConvLayout, rank: number): string {
  const spatial = rank === 3 ? 'W' : rank === 4 ? 'HW' : rank === 5 ? 'DHW' : `S${rank - 2}`;
  return layout === 'OI*' ? `OI${spatial}` : layout === '*IO' ? `${spatial}IO` : `O${spatial}I`;
}
