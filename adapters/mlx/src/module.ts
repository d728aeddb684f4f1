import { requireSync, type Engine, type HostTensor } from '@normbridge/core';
import { MlxError, pyShape } from './errors.js';

/**
 * What `Module.parameters()` returns in MLX: a dict of arrays, nested dicts (sub-modules) and
 * lists (lists of sub-modules), in insertion order.
 */
export interface ParameterTree<T> {
  [key: string]: T | ParameterTree<T> | ParameterTree<T>[];
}

/** A child member of a {@link Module}: one sub-module, or a list of them (`self.layers = [...]`). */
export type ModuleChild<T> = Module<T> | readonly Module<T>[];

/** Options of {@link Module.freeze} / {@link Module.unfreeze}, as MLX names them. */
export interface FreezeOptions {
  /**
   * Also walk the sub-modules (MLX's `apply_to_modules`).
   * @default true
   */
  recurse?: boolean;
  /**
   * Only these member names; all of a module's own arrays when absent. A string is one key.
   * @default undefined (every parameter)
   */
  keys?: string | readonly string[];
  /**
   * Raise MLX's `KeyError("Module doesn't contain member …")` for a key the module lacks.
   * @default false
   */
  strict?: boolean;
}

/** Weights to load: `[name, array]` pairs (as `tree_flatten` gives them) or a name → array record. */
export type Weights = readonly (readonly [string, HostTensor])[] | Readonly<Record<string, HostTensor>>;

/** A parameter leaf found while walking a module tree. */
interface Leaf<T> {
  readonly name: string;
  readonly owner: Module<T>;
  readonly key: string;
  readonly value: T;
}

/** A load prepared by one array owner: uploaded and validated, not yet visible. */
export interface PreparedLoad {
  commit(): void;
  abort(): void;
}

type Filter<T> = (module: Module<T>, key: string) => boolean;

const ALL: Filter<unknown> = () => true;

/**
 * A minimal `mlx.nn.Module`: a container of named sub-modules (and lists of them) with MLX's
 * tree-shaped `parameters()`, its training flag, its `freeze`/`unfreeze` bookkeeping and
 * `load_weights`/`save_weights` with dotted names (`bn.running_mean`, `layers.1.weight`).
 *
 * It holds no arrays of its own; layers such as {@link BatchNorm} do. Freezing reproduces
 * MLX exactly, including its trap (docs/semantics.md#mlx): `unfreeze()` on a parent walks every
 * sub-module and clears its frozen set directly, without calling the sub-module's own
 * `unfreeze`, so after `model.unfreeze()` the running statistics of every BatchNorm inside are
 * trainable. Only `bn.unfreeze()` on the layer itself keeps them frozen.
 */
export class Module<T = any> {
  readonly #noGrad = new Set<string>();
  readonly #children = new Map<string, Module<T> | Module<T>[]>();
  #training = true;

  constructor(children?: Readonly<Record<string, ModuleChild<T>>>) {
    if (children) for (const [name, child] of Object.entries(children)) this.setChild(name, child);
  }

  /** Adds or replaces a sub-module (or a list of them): Python's `self.name = child`. */
  setChild(name: string, child: ModuleChild<T>): this {
    if (name.startsWith('_')) {
      // MLX's parameter filter skips private names; keep them out rather than silently hide them.
      throw new MlxError('ValueError', `Module member names starting with "_" are private in MLX: ${name}`);
    }
    this.#children.set(name, child instanceof Module ? child : [...child]);
    return this;
  }

  /** The sub-module (or list) stored under `name`. */
  child(name: string): ModuleChild<T> | undefined {
    return this.#children.get(name);
  }

  /** Whether the module is in training mode. A new module is (MLX `Module.__init__`). */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and every sub-module. @default mode = true */
  train(mode = true): this {
    this.applyToModules((_, m) => {
      m.#training = mode;
    });
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** The module's own arrays in insertion order; layers override this. */
  protected localArrays(): (readonly [string, T])[] {
    return [];
  }

  /** The engine that owns this module's own arrays (layers override this). */
  protected arrayEngine(): Engine<T> | undefined {
    return undefined;
  }

  /** Uploads and checks new values for own arrays, without making them visible yet. */
  protected prepareLoad(entries: readonly (readonly [string, HostTensor])[]): PreparedLoad {
    if (entries.length > 0) throw new MlxError('ValueError', `Module does not have parameter named "${entries[0]![0]}".`);
    return { commit() {}, abort() {} };
  }

  /** Every array member, recursively, as a tree (MLX `parameters()`): frozen ones included. */
  parameters(): ParameterTree<T> {
    return this.#tree(ALL);
  }

  /** Arrays not frozen (MLX `trainable_parameters()`). */
  trainableParameters(): ParameterTree<T> {
    return this.#tree((m, k) => !m.#noGrad.has(k));
  }

  /** Direct sub-modules by name (MLX `children()`). */
  children(): Record<string, ModuleChild<T>> {
    return Object.fromEntries(this.#children);
  }

  /**
   * Calls `fn` on this module and every sub-module, with dotted names (`''` for this one), in
   * MLX's order (a stack: this module first, then the last child first).
   */
  applyToModules(fn: (name: string, module: Module<T>) => void): this {
    const stack: [string, Module<T>][] = [['', this]];
    while (stack.length > 0) {
      const [prefix, m] = stack.pop()!;
      fn(prefix, m);
      const dot = prefix ? `${prefix}.` : '';
      for (const [name, child] of m.#children) {
        if (child instanceof Module) stack.push([`${dot}${name}`, child]);
        else child.forEach((c, i) => stack.push([`${dot}${name}.${i}`, c]));
      }
    }
    return this;
  }

  /** `[name, module]` for this module and every sub-module (MLX `named_modules()`). */
  namedModules(): [string, Module<T>][] {
    const out: [string, Module<T>][] = [];
    this.applyToModules((k, m) => out.push([k, m]));
    return out;
  }

  /** This module and every sub-module (MLX `modules()`). */
  modules(): Module<T>[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Freezes parameters (no gradients; excluded from `trainableParameters()`). Without `keys`,
   * every own array of each visited module. Idempotent.
   */
  freeze(options: FreezeOptions = {}): this {
    const { recurse = true, keys, strict = false } = options;
    const impl = (_: string, m: Module<T>) => {
      const local = keys === undefined ? m.localArrays().map(([k]) => k) : m.#validateKeys(keys, strict);
      for (const k of local) m.#noGrad.add(k);
    };
    if (recurse) this.applyToModules(impl);
    else impl('', this);
    return this;
  }

  /**
   * Unfreezes parameters. On a parent this clears each sub-module's frozen set directly, as
   * MLX does: a BatchNorm's running statistics become trainable (docs/semantics.md#mlx). Layers may
   * override this for themselves only ({@link BatchNorm.unfreeze} re-freezes its statistics).
   */
  unfreeze(options: FreezeOptions = {}): this {
    const { recurse = true, keys, strict = false } = options;
    const impl = (_: string, m: Module<T>) => {
      if (keys === undefined) m.#noGrad.clear();
      else for (const k of m.#validateKeys(keys, strict)) m.#noGrad.delete(k);
    };
    if (recurse) this.applyToModules(impl);
    else impl('', this);
    return this;
  }

  /**
   * Loads weights by dotted name (MLX `load_weights` with a list of pairs).
   *
   * With `strict` (MLX's default) the names must be exactly those of `parameters()`, and every
   * array must have the parameter's shape; the errors are MLX's `ValueError`s ("Received N
   * parameters not in model", "Missing N parameters", "Expected shape … but received shape …").
   * Without `strict`, names the model does not have are ignored. Either way the load is
   * all-or-nothing: if anything is rejected, nothing changes.
   *
   * Differences from MLX: a non-strict load still rejects a mis-shaped or non-array value
   * (MLX would store it and fail, or broadcast, on the next call), and values go through the
   * engine's `stateFromHost`, so a NaN or negative running variance is a `StateError`.
   * @default strict = true
   */
  loadWeights(weights: Weights, strict = true): this {
    const pairs: readonly (readonly [string, HostTensor])[] = Array.isArray(weights)
      ? (weights as readonly (readonly [string, HostTensor])[])
      : Object.entries(weights as Record<string, HostTensor>);
    const next = new Map<string, unknown>(pairs);
    const current = this.#leaves(ALL);
    const byName = new Map(current.map((l) => [l.name, l]));
    if (strict) {
      const extras = [...next.keys()].filter((k) => !byName.has(k)).sort();
      if (extras.length > 0) {
        throw new MlxError('ValueError', `Received ${extras.length} parameters not in model: \n${extras.join(',\n')}.`);
      }
      const missing = [...byName.keys()].filter((k) => !next.has(k)).sort();
      if (missing.length > 0) {
        throw new MlxError('ValueError', `Missing ${missing.length} parameters: \n${missing.join(',\n')}.`);
      }
    }
    const perOwner = new Map<Module<T>, [string, HostTensor][]>();
    for (const leaf of current) {
      if (!next.has(leaf.name)) continue;
      const value = next.get(leaf.name);
      if (!isHostTensor(value)) {
        throw new MlxError('ValueError', `Expected mx.array but received ${pyTypeName(value)} for parameter ${leaf.name}`);
      }
      const have = leaf.owner.arrayEngine()!.shapeOf(leaf.value);
      if (!sameShape(have, value.shape)) {
        throw new MlxError(
          'ValueError',
          `Expected shape ${pyShape(have)} but received shape ${pyShape(value.shape)} for parameter ${leaf.name}`,
        );
      }
      let list = perOwner.get(leaf.owner);
      if (!list) perOwner.set(leaf.owner, (list = []));
      list.push([leaf.key, value]);
    }
    const prepared: PreparedLoad[] = [];
    try {
      for (const [owner, entries] of perOwner) prepared.push(owner.prepareLoad(entries));
    } catch (e) {
      for (const p of prepared) p.abort();
      throw e;
    }
    for (const p of prepared) p.commit();
    return this;
  }

  /**
   * The weights as MLX's `save_weights` writes them: `tree_flatten(parameters())`, i.e. dotted
   * names and host arrays, running statistics included. Synchronous engines only.
   */
  saveWeights(): [string, HostTensor][] {
    return this.#leaves(ALL).map((l) => {
      const engine = requireSync(l.owner.arrayEngine()!, 'saveWeights()', 'saveWeightsAsync()');
      return [l.name, engine.toHost(l.value)];
    });
  }

  /** {@link saveWeights} on any engine. */
  async saveWeightsAsync(): Promise<[string, HostTensor][]> {
    const leaves = this.#leaves(ALL);
    const hosts = await Promise.all(leaves.map((l) => l.owner.arrayEngine()!.toHost(l.value)));
    return leaves.map((l, i) => [l.name, hosts[i]!]);
  }

  #validateKeys(keys: string | readonly string[], strict: boolean): readonly string[] {
    const list = typeof keys === 'string' ? [keys] : keys;
    if (strict) {
      const members = new Set([...this.localArrays().map(([k]) => k), ...this.#children.keys()]);
      for (const k of list) if (!members.has(k)) throw new MlxError('KeyError', `Module doesn't contain member ${k}.`);
    }
    return list;
  }

  #tree(filter: Filter<T>): ParameterTree<T> {
    const out: ParameterTree<T> = {};
    for (const [k, v] of this.localArrays()) if (filter(this, k)) out[k] = v;
    for (const [k, child] of this.#children) {
      if (!filter(this, k)) continue;
      if (child instanceof Module) out[k] = child.#tree(filter);
      else out[k] = child.map((c, i) => (filter(this, `${k}.${i}`) ? c.#tree(filter) : {}));
    }
    return out;
  }

  #leaves(filter: Filter<T>, prefix = ''): Leaf<T>[] {
    const out: Leaf<T>[] = [];
    for (const [k, v] of this.localArrays()) if (filter(this, k)) out.push({ name: prefix + k, owner: this, key: k, value: v });
    for (const [k, child] of this.#children) {
      if (!filter(this, k)) continue;
      if (child instanceof Module) out.push(...child.#leaves(filter, `${prefix}${k}.`));
      else {
        child.forEach((c, i) => {
          if (filter(this, `${k}.${i}`)) out.push(...c.#leaves(filter, `${prefix}${k}.${i}.`));
        });
      }
    }
    return out;
  }
}

/**
 * `mlx.utils.tree_flatten`: `[dotted name, leaf]` pairs of a parameter tree, in order. Empty
 * dicts and lists contribute nothing. Leaves are whatever is not a list or a plain dict; a
 * {@link HostTensor} (a plain object itself) counts as a leaf.
 */
export function treeFlatten<T>(
  tree: ParameterTree<T> | ParameterTree<T>[],
  prefix = '',
  isLeaf: (value: unknown) => boolean = defaultIsLeaf,
): [string, T][] {
  const out: [string, T][] = [];
  const visit = (v: unknown, name: string) => {
    if (isLeaf(v)) out.push([name, v as T]);
    else if (Array.isArray(v)) v.forEach((item, i) => visit(item, name ? `${name}.${i}` : String(i)));
    else for (const [k, item] of Object.entries(v as object)) visit(item, name ? `${name}.${k}` : k);
  };
  visit(tree, prefix);
  return out;
}

function defaultIsLeaf(v: unknown): boolean {
  return !(Array.isArray(v) || (isPlainObject(v) && !isHostTensor(v)));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isHostTensor(v: unknown): v is HostTensor {
  if (v === null || typeof v !== 'object') return false;
  const t = v as Partial<HostTensor>;
  return Array.isArray(t.shape) && (t.data instanceof Float32Array || t.data instanceof Float64Array) && typeof t.dtype === 'string';
}

function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return "<class 'NoneType'>";
  if (typeof v === 'number') return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  if (typeof v === 'string') return "<class 'str'>";
  if (typeof v === 'boolean') return "<class 'bool'>";
  if (Array.isArray(v)) return "<class 'list'>";
  return `<class '${(v as object).constructor?.name ?? 'object'}'>`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
