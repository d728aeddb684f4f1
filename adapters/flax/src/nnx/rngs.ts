import { foldIn, foldInString, isPRNGKey, key, type PRNGKey } from '../random.js';

type Seed = number | PRNGKey;

/**
 * `nnx.Rngs`: named key streams, each a root key plus a counter. `rngs.params()` draws from
 * the `params` stream, or from `default` when there is none (as `nnx.Rngs(0)` does); every draw
 * advances the stream's count.
 */
export class Rngs {
  readonly #roots = new Map<string, PRNGKey>();
  readonly #counts = new Map<string, number>();

  /** `Rngs(0)` (a `default` stream) or `Rngs({params: 0, dropout: 1})`. */
  constructor(seeds: Seed | Readonly<Record<string, Seed>>) {
    const entries: [string, Seed][] = typeof seeds === 'number' || isPRNGKey(seeds) ? [['default', seeds]] : Object.entries(seeds);
    for (const [name, seed] of entries) this.#roots.set(name, typeof seed === 'number' ? key(seed) : seed);
  }

  #resolve(stream: string): string {
    if (this.#roots.has(stream)) return stream;
    if (this.#roots.has('default')) return 'default';
    throw new Error(`No RngStream named '${stream}' found in Rngs.`);
  }

  /** A new key from `stream` (or `default`). */
  next(stream: string): PRNGKey {
    const name = this.#resolve(stream);
    const n = this.#counts.get(name) ?? 0;
    this.#counts.set(name, n + 1);
    return foldIn(foldInString(this.#roots.get(name)!, name), n);
  }

  /** `rngs.params()`. */
  params(): PRNGKey {
    return this.next('params');
  }

  /** `rngs.default()`. */
  default(): PRNGKey {
    return this.next('default');
  }

  /** How many keys `stream` (as resolved) has handed out: `rngs.params.count`. */
  count(stream: string): number {
    return this.#counts.get(this.#resolve(stream)) ?? 0;
  }
}
