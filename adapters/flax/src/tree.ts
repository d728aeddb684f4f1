import { pyShape, pyStr } from './errors.js';
import { indexLeaf, isLeaf, shapeOf } from './leaf.js';

/**
 * Nested dicts of array leaves: Flax's variable dicts (`{'params': {'Dense_0': {'kernel': …}}}`)
 * and NNX's pure dicts. Keys are kept exactly as Flax spells them.
 */
export interface Tree<L = unknown> {
  [key: string]: L | Tree<L>;
}

function isDict(v: unknown): v is Tree<unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isLeaf(v);
}

/** Keys in the order `jax.tree_util` visits a dict: sorted (Python's code-point order). */
export function sortedKeys(d: object): string[] {
  return Object.keys(d).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * `jax.tree_util.tree_map(f, tree)` over nested dicts: `f` sees every leaf, dicts are rebuilt
 * with sorted keys.
 */
export function treeMap<A, B>(f: (leaf: A, path: readonly string[]) => B, tree: Tree<A>, path: readonly string[] = []): Tree<B> {
  const out: Tree<B> = {};
  for (const k of sortedKeys(tree)) {
    const v = tree[k];
    out[k] = isDict(v) ? treeMap(f, v as Tree<A>, [...path, k]) : f(v as A, [...path, k]);
  }
  return out;
}

/** Leaves in tree order, with their key paths. */
export function treeLeaves<A>(tree: Tree<A>, path: readonly string[] = []): [string[], A][] {
  const out: [string[], A][] = [];
  for (const k of sortedKeys(tree)) {
    const v = tree[k];
    if (isDict(v)) out.push(...treeLeaves(v as Tree<A>, [...path, k]));
    else out.push([[...path, k], v as A]);
  }
  return out;
}

/** Rebuilds a tree of the same structure from leaves in {@link treeLeaves} order. */
export function treeUnflatten<A, B>(like: Tree<A>, leaves: readonly B[]): Tree<B> {
  let i = 0;
  const build = (t: Tree<A>): Tree<B> => {
    const out: Tree<B> = {};
    for (const k of sortedKeys(t)) {
      const v = t[k];
      out[k] = isDict(v) ? build(v as Tree<A>) : leaves[i++]!;
    }
    return out;
  };
  const out = build(like);
  if (i !== leaves.length) throw new RangeError(`tree has ${i} leaves, got ${leaves.length}`);
  return out;
}

/** `jax.tree_util.tree_map(jnp.shape, variables)`: every array replaced by its shape. */
export function treeMapShapes(tree: Tree<unknown>): Tree<number[]> {
  return treeMap((leaf) => shapeOf(leaf), tree);
}

export interface PrettyReprOptions {
  /**
   * The wrapper printed around the top-level dict: `'FrozenDict'` as in the Flax batch-norm
   * guide, or `'dict'` for a bare `{ … }` (Flax ≥ 0.7.1 returns plain dicts).
   * @default 'FrozenDict'
   */
  readonly wrapper?: 'FrozenDict' | 'dict';
}

/**
 * Prints a tree of shapes (or any leaves) the way the Flax batch-norm guide shows
 * `jax.tree_util.tree_map(jnp.shape, variables)`: sorted keys, Python reprs (`'bias': (4,),`),
 * nested dicts indented by two spaces, the leaves of a dict by four, closing braces with a
 * trailing comma.
 */
export function prettyRepr(tree: Tree<unknown>, options: PrettyReprOptions = {}): string {
  const lines: string[] = [];
  const leafRepr = (v: unknown): string => {
    if (Array.isArray(v) && v.every((d) => typeof d === 'number')) return pyShape(v as number[]);
    if (isLeaf(v)) return pyShape(shapeOf(v));
    if (typeof v === 'string') return pyStr(v);
    return String(v);
  };
  const walk = (d: Tree<unknown>, indent: number) => {
    for (const k of sortedKeys(d)) {
      const v = d[k];
      if (isDict(v)) {
        lines.push(`${' '.repeat(indent)}${pyStr(k)}: {`);
        walk(v, indent + 2);
        lines.push(`${' '.repeat(indent)}},`);
      } else {
        lines.push(`${' '.repeat(indent + 2)}${pyStr(k)}: ${leafRepr(v)},`);
      }
    }
  };
  walk(tree, 2);
  const wrapper = options.wrapper ?? 'FrozenDict';
  return wrapper === 'FrozenDict' ? ['FrozenDict({', ...lines, '})'].join('\n') : ['{', ...lines, '}'].join('\n');
}

/**
 * `flax.traverse_util.flatten_dict(tree, sep='/')`: `{'params/BatchNorm_0/scale': …}`
 * (or tuple paths when `sep` is omitted, as arrays).
 */
export function flattenDict<A>(tree: Tree<A>, sep: string): Record<string, A>;
export function flattenDict<A>(tree: Tree<A>): [string[], A][];
export function flattenDict<A>(tree: Tree<A>, sep?: string): Record<string, A> | [string[], A][] {
  const leaves = treeLeaves(tree);
  if (sep === undefined) return leaves;
  return Object.fromEntries(leaves.map(([p, v]) => [p.join(sep), v]));
}

/** `flax.traverse_util.unflatten_dict(flat, sep='/')`. */
export function unflattenDict<A>(flat: Record<string, A>, sep = '/'): Tree<A> {
  const out: Tree<A> = {};
  for (const [key, v] of Object.entries(flat)) {
    const parts = key.split(sep);
    let d: Tree<A> = out;
    for (const p of parts.slice(0, -1)) d = (d[p] ??= {}) as Tree<A>;
    d[parts[parts.length - 1]!] = v;
  }
  return out;
}

/**
 * `flax.jax_utils.unreplicate(tree)`: the first replica of every leaf stacked on a leading
 * replica axis — e.g. the `batch_stats` a {@link pmap}-ed training step returns.
 */
export function unreplicate<A>(tree: Tree<A>): Tree<A> {
  return treeMap((leaf: A) => indexLeaf(leaf, 0), tree);
}

/** Deep copy of the dict structure; leaves are shared. */
export function copyTree<A>(tree: Tree<A>): Tree<A> {
  const out: Tree<A> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = isDict(v) ? copyTree(v as Tree<A>) : (v as A);
  return out;
}

export { isDict };
