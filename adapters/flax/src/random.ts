/**
 * PRNG keys in the style of `jax.random`: immutable, split and folded, never advanced in place.
 * The bits are NOT JAX's threefry stream (that would need JAX's exact counter-based cipher);
 * only the structure is mirrored: `key(0)` is deterministic, `split` gives independent keys,
 * and an initializer given the same key returns the same values. BatchNorm's own initializers
 * (zeros/ones) ignore the key, exactly as in Flax.
 */
export interface PRNGKey {
  readonly kind: 'PRNGKey';
  /** Two 32-bit words. */
  readonly words: readonly [number, number];
}

function mix32(h: number): number {
  // murmur3's finalizer: a bijection on 32-bit words.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function make(a: number, b: number): PRNGKey {
  return Object.freeze({ kind: 'PRNGKey', words: Object.freeze([a >>> 0, b >>> 0]) as [number, number] });
}

/** `jax.random.key(seed)` (or the older `PRNGKey(seed)`). */
export function key(seed: number): PRNGKey {
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return make(mix32(lo ^ 0x9e3779b9), mix32(hi ^ mix32(lo)));
}

/** `jax.random.fold_in(key, data)`: a new key derived from a key and an integer. */
export function foldIn(k: PRNGKey, data: number): PRNGKey {
  const d = data >>> 0;
  const a = mix32(k.words[0] ^ mix32(d + 0x632be5ab));
  const b = mix32(k.words[1] ^ mix32(a ^ d));
  return make(a, b);
}

/** `jax.random.split(key, num)`. */
export function split(k: PRNGKey, num = 2): PRNGKey[] {
  return Array.from({ length: num }, (_, i) => foldIn(foldIn(k, 0x5eed), i));
}

/** A key derived from a string (module paths, collection names). */
export function foldInString(k: PRNGKey, s: string): PRNGKey {
  let out = k;
  for (let i = 0; i < s.length; i++) out = foldIn(out, s.charCodeAt(i));
  return foldIn(out, s.length);
}

/** A 31-bit seed for TF.js random ops (`tf.truncatedNormal(…, seed)`). */
export function seedOf(k: PRNGKey): number {
  return (mix32(k.words[0] ^ k.words[1]) & 0x7fffffff) >>> 0;
}

export function isPRNGKey(v: unknown): v is PRNGKey {
  return typeof v === 'object' && v !== null && (v as PRNGKey).kind === 'PRNGKey';
}
