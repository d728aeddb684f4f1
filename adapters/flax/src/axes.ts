/**
 * Flax's `_canonicalize_axes(rank, axes)`: negatives become `rank + axis`, duplicates are
 * dropped through a Python `set`, and the result is `tuple(set)`. The docstring promises a
 * sorted tuple, but a set iterates in hash-table slot order. Small ints hash to themselves, so
 * for axes 0–7 in a fresh 8-slot table that is ascending; an axis >= 8 wraps around
 * (`{1, 8}` iterates as `(8, 1)`). The order fixes the shape of `scale`/`bias`/`mean`/`var`
 * (`[x.shape[a] for a in feature_axes]`), so it is reproduced here by replaying CPython's set
 * insertion (linear probing, perturbation, resizing) — a translation of axis order, no numerics.
 */

/** An axis specification as Flax accepts it: one int or several. */
export type Axes = number | readonly number[];

const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5;
const SET_MINSIZE = 8;

/**
 * Iteration order of `set(values)` in CPython (3.7–3.13) for non-negative ints below 2**61,
 * whose hash is the int itself.
 */
export function pythonSetOrder(values: readonly number[]): number[] {
  let mask = SET_MINSIZE - 1;
  let table: (number | undefined)[] = new Array(SET_MINSIZE).fill(undefined);
  let used = 0;

  // set_insert_clean: used when rebuilding the table on resize (no duplicates, no dummies).
  const insertClean = (t: (number | undefined)[], m: number, key: number) => {
    let perturb = key;
    let i = key & m;
    for (;;) {
      if (t[i] === undefined) {
        t[i] = key;
        return;
      }
      if (i + LINEAR_PROBES <= m) {
        for (let j = 1; j <= LINEAR_PROBES; j++) {
          if (t[i + j] === undefined) {
            t[i + j] = key;
            return;
          }
        }
      }
      perturb = Math.floor(perturb / 2 ** PERTURB_SHIFT);
      i = (i * 5 + 1 + perturb) & m;
    }
  };

  const resize = (minused: number) => {
    let size = SET_MINSIZE;
    while (size <= minused) size *= 2;
    const next: (number | undefined)[] = new Array(size).fill(undefined);
    for (const key of table) if (key !== undefined) insertClean(next, size - 1, key);
    table = next;
    mask = size - 1;
  };

  // set_add_entry, for a table without dummies (nothing is ever removed here).
  const add = (key: number) => {
    let perturb = key;
    let i = key & mask;
    for (;;) {
      const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0;
      for (let j = 0; j <= probes; j++) {
        const slot = table[i + j];
        if (slot === undefined) {
          table[i + j] = key;
          used++;
          // fill == used: nothing is deleted.
          if (used * 5 >= mask * 3) resize(used > 50000 ? used * 2 : used * 4);
          return;
        }
        if (slot === key) return;
      }
      perturb = Math.floor(perturb / 2 ** PERTURB_SHIFT);
      i = (i * 5 + 1 + perturb) & mask;
    }
  };

  for (const v of values) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`pythonSetOrder: ${v} is not a non-negative int`);
    add(v);
  }
  return table.filter((k): k is number => k !== undefined);
}

/**
 * `_canonicalize_axes(rank, axes)` of flax linen/NNX: non-negative, deduplicated, in Python
 * set order. Axes outside the rank are returned as they are (the core layout check rejects
 * them with a `SpecError` naming the axis).
 */
export function canonicalizeAxes(rank: number, axes: Axes): number[] {
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const absolute = list.map((a) => (a < 0 ? rank + a : a));
  if (absolute.some((a) => a < 0)) return absolute; // left for the layout check to reject
  return pythonSetOrder(absolute);
}

/** Legacy `flax.nn`'s `_absolute_dims`: negatives become `rank + axis`, order kept. */
export function absoluteDims(rank: number, axes: Axes): number[] {
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => (a < 0 ? rank + a : a));
}
