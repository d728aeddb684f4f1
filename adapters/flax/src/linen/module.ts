import type { Dtype, Engine, HostTensor } from '@normbridge/core';
import type * as tf from '@tensorflow/tfjs-core';
import { requireSync, resolveAnyEngine } from '../backend.js';
import {
  ApplyScopeInvalidVariablesStructureError,
  InvalidRngError,
  ModifyScopeVariableError,
  NameInUseError,
  ScopeCollectionNotFound,
  ScopeParamNotFoundError,
  ScopeParamShapeError,
  ScopeVariableNotFoundError,
  ValueError,
} from '../errors.js';
import type { Initializer } from '../initializers.js';
import { shapeOf, toEngine } from '../leaf.js';
import { foldIn, foldInString, isPRNGKey, type PRNGKey } from '../random.js';
import { copyTree, isDict, type Tree } from '../tree.js';

/** Keyword arguments of a module whose call takes none. */
export type NoArgs = Record<never, never>;

/** `{collection: {module path…: {name: array}}}`, e.g. `{'params': …, 'batch_stats': …}`. */
export type Variables<L = any> = Record<string, Tree<L>>;

/**
 * Which collections an `apply` may write (Flax's `CollectionFilter`): `true` all, `false`
 * none, a name, or a list of names.
 */
export type CollectionFilter = boolean | string | readonly string[];

/** Options `init`/`apply` take besides the module's own call arguments. */
export interface ScopeOptions {
  /**
   * The engine BatchNorm layers compute with (normbridge's addition; Flax computes with JAX).
   * @default core's `getDefaultEngine()` (the float64 reference unless set)
   */
  readonly engine?: Engine<any> | undefined;
  /**
   * PRNG keys by stream name, Flax's `rngs=`. A bare key means `{params: key}`.
   * @default none for `apply`
   */
  readonly rngs?: PRNGKey | Readonly<Record<string, PRNGKey>> | undefined;
}

export interface ApplyOptions extends ScopeOptions {
  /**
   * Collections the call may modify. Given (even as `[]`), `apply` returns `[y, updates]` with
   * every mutable collection; `false` returns `y` alone. A training call of a BatchNorm needs
   * `['batch_stats']`, else `ModifyScopeVariableError`. Trap mirrored from Flax: a mutable
   * collection that was not passed in is silently created again (zeros/ones running
   * statistics) instead of raising.
   * @default false
   */
  readonly mutable?: CollectionFilter | undefined;
}

const APPLY_KEYS = new Set(['engine', 'rngs', 'mutable']);

function inFilter(filter: CollectionFilter, col: string): boolean {
  if (typeof filter === 'boolean') return filter;
  if (typeof filter === 'string') return filter === col;
  return filter.includes(col);
}

interface Root {
  readonly variables: Variables;
  readonly mutable: (col: string) => boolean;
  readonly rngs: Readonly<Record<string, PRNGKey>>;
  readonly initializing: boolean;
  readonly engine: Engine<any>;
  readonly rngCounters: Map<string, number>;
}

/** A variable handle (`self.variable(...)`): reading and assigning `value`. */
export interface VariableRef<L> {
  readonly collection: string;
  readonly name: string;
  value: L;
}

/**
 * The scope a compact `call` runs in (Flax's `Scope` plus the module-level helpers `param`,
 * `variable`, `is_initializing`, `is_mutable_collection`, `make_rng`). Submodules are called
 * through {@link Scope.child}, which names them as Flax does.
 */
export class Scope {
  readonly #root: Root;
  /** Module path from the root, e.g. `['BatchNorm_0']`. */
  readonly path: readonly string[];
  readonly #moduleName: string;
  readonly #reserved = new Set<string>();
  readonly #counters = new Map<string, number>();
  readonly #names = new WeakMap<object, string>();

  /** @internal */
  constructor(root: Root, path: readonly string[], moduleName: string) {
    this.#root = root;
    this.path = path;
    this.#moduleName = moduleName;
  }

  /** The scope's name (last path element); `undefined` for the root. */
  get name(): string | undefined {
    return this.path[this.path.length - 1];
  }

  /** `'/' + '/'.join(path)`, as Flax writes scope paths in error messages. */
  get pathText(): string {
    return `/${this.path.join('/')}`;
  }

  /**
   * The engine of this `init`/`apply`: synchronous in `init`/`apply`, any engine in their
   * `…Async` variants.
   */
  get engine(): Engine<any> {
    return this.#root.engine;
  }

  /** `self.is_initializing()`: true inside `init`/`initWithOutput`. */
  isInitializing(): boolean {
    return this.#root.initializing;
  }

  /** `self.is_mutable_collection(col)`. */
  isMutableCollection(col: string): boolean {
    return this.#root.mutable(col);
  }

  /** Whether the whole collection is absent or empty (Flax checks the root). */
  isCollectionEmpty(col: string): boolean {
    const c = this.#root.variables[col];
    return c === undefined || Object.keys(c).length === 0;
  }

  #dict(col: string, create: boolean): Tree | undefined {
    let d: Tree | undefined = this.#root.variables[col];
    if (d === undefined) {
      if (!create) return undefined;
      d = this.#root.variables[col] = {};
    }
    for (const p of this.path) {
      let next: unknown = d[p];
      if (next === undefined) {
        if (!create) return undefined;
        next = d[p] = {};
      }
      if (!isDict(next)) return undefined;
      d = next;
    }
    return d;
  }

  hasVariable(col: string, name: string): boolean {
    const d = this.#dict(col, false);
    return d !== undefined && d[name] !== undefined && !isDict(d[name]);
  }

  getVariable<L = any>(col: string, name: string): L {
    const d = this.#dict(col, false);
    const v = d?.[name];
    if (v === undefined || isDict(v)) {
      if (this.isCollectionEmpty(col)) throw new ScopeCollectionNotFound(col, name, this.pathText);
      throw new ScopeVariableNotFoundError(name, col, this.pathText);
    }
    return v as L;
  }

  /** `scope.put_variable`: raises `ModifyScopeVariableError` on an immutable collection. */
  putVariable(col: string, name: string, value: unknown): void {
    if (!this.isMutableCollection(col)) throw new ModifyScopeVariableError(col, name, this.pathText);
    this.#dict(col, true)![name] = value;
  }

  #reserve(kind: 'param' | 'variable' | 'submodule', name: string): void {
    if (this.#reserved.has(name)) throw new NameInUseError(kind, name, this.#moduleName);
    this.#reserved.add(name);
  }

  /**
   * `self.variable(col, name, init_fn, *args)`: an existing variable, or — in a mutable
   * collection — a new one from `init`. A missing variable in an immutable collection raises
   * `ScopeCollectionNotFound` (collection absent) or `ScopeVariableNotFoundError`.
   */
  variable<L>(col: string, name: string, init?: () => L): VariableRef<L> {
    this.#reserve('variable', name);
    if (!this.hasVariable(col, name)) {
      if (!this.isMutableCollection(col) || init === undefined) {
        if (this.isCollectionEmpty(col)) throw new ScopeCollectionNotFound(col, name, this.pathText);
        throw new ScopeVariableNotFoundError(name, col, this.pathText);
      }
      this.putVariable(col, name, init());
    }
    const scope = this;
    return {
      collection: col,
      name,
      get value(): L {
        return scope.getVariable<L>(col, name);
      },
      set value(v: L) {
        scope.putVariable(col, name, v);
      },
    };
  }

  /**
   * `self.param(name, init_fn, shape, dtype)`: an existing parameter (its shape checked against
   * `shape`, `ScopeParamShapeError`), or — while `params` is mutable — a new one from
   * `init(make_rng('params'), shape, dtype)`, put on this scope's engine (or converted by
   * `convert`).
   */
  param<L = any>(
    name: string,
    init: Initializer,
    shape: readonly number[],
    dtype: Dtype,
    convert?: (v: HostTensor | tf.Tensor) => L,
  ): L {
    this.#reserve('param', name);
    if (!this.hasVariable('params', name)) {
      if (!this.isMutableCollection('params')) {
        if (this.isCollectionEmpty('params')) throw new ScopeCollectionNotFound('params', name, this.pathText);
        throw new ScopeParamNotFoundError(name, this.pathText);
      }
      const raw = init(this.makeRng('params'), shape, dtype);
      const value = convert ? convert(raw) : toEngine(this.engine, raw);
      this.putVariable('params', name, value);
      return value as L;
    }
    const value = this.getVariable<L>('params', name);
    const have = shapeOf(value);
    if (have.length !== shape.length || have.some((d, i) => d !== shape[i])) {
      throw new ScopeParamShapeError(name, this.pathText, have, shape);
    }
    return value;
  }

  /** `self.make_rng(name)`: a fresh key of stream `name` (falling back to `params`). */
  makeRng(name: string): PRNGKey {
    let stream = name;
    if (this.#root.rngs[stream] === undefined) {
      if (this.#root.rngs['params'] === undefined) {
        throw new InvalidRngError(`${this.name ?? this.#moduleName} needs PRNG for "${name}"`);
      }
      stream = 'params';
    }
    const counterKey = `${stream}:${this.pathText}`;
    const n = this.#root.rngCounters.get(counterKey) ?? 0;
    this.#root.rngCounters.set(counterKey, n + 1);
    return foldIn(foldInString(this.#root.rngs[stream]!, this.pathText), n);
  }

  /**
   * Calls a submodule inside this scope (`nn.Dense(4)(x)` in a compact method). An unnamed
   * module is named `ClassName_k` with a counter per class (`Dense_0`, `BatchNorm_0`,
   * `Dense_1`); `name` overrides. The same instance called again reuses its name and
   * variables.
   */
  child<X, K extends object, Y>(module: Module<X, K, Y>): (x: X, kwargs?: K) => Y {
    const scope = this.#childScope(module);
    return (x: X, kwargs?: K) => module.call(scope(), x, kwargs);
  }

  /**
   * {@link child} for a compact {@link Module.callAsync}: calls the submodule's `callAsync`,
   * so that a composed module can run its BatchNorms on an asynchronous engine
   * (`await scope.childAsync(new BatchNorm({…}))(x, {…})`). Names exactly as `child` does.
   */
  childAsync<X, K extends object, Y>(module: Module<X, K, Y>): (x: X, kwargs?: K) => Promise<Y> {
    const scope = this.#childScope(module);
    return (x: X, kwargs?: K) => module.callAsync(scope(), x, kwargs);
  }

  /** Names a submodule (reserving the name on first use) and makes its scopes. */
  #childScope(module: Module<any, any, any>): () => Scope {
    let name = this.#names.get(module);
    if (name === undefined) {
      const cls = module.flaxClassName;
      if (module.name !== undefined) {
        name = module.name;
      } else {
        const k = this.#counters.get(cls) ?? 0;
        this.#counters.set(cls, k + 1);
        name = `${cls}_${k}`;
      }
      this.#reserve('submodule', name);
      this.#names.set(module, name);
    }
    const path = [...this.path, name];
    return () => new Scope(this.#root, path, module.flaxClassName);
  }
}

/** A call's own keyword arguments plus the `init`/`apply` options. */
export type WithApply<K, O> = K & O;

function splitOptions<K extends object>(options: object | undefined): [K, ApplyOptions] {
  const kwargs: Record<string, unknown> = {};
  const apply: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options ?? {})) (APPLY_KEYS.has(k) ? apply : kwargs)[k] = v;
  return [kwargs as K, apply as ApplyOptions];
}

function normalizeRngs(rngs: ScopeOptions['rngs']): Record<string, PRNGKey> {
  if (rngs === undefined) return {};
  if (isPRNGKey(rngs)) return { params: rngs };
  return { ...rngs };
}



/**
 * A linen module in compact style: subclasses implement `call(scope, x, kwargs)` and read their
 * fields from `this`. `init`/`apply` mirror `flax.linen.Module.init/apply`, with keyword
 * arguments of the call and of `apply` passed together in one options object.
 *
 * @typeParam X input type; @typeParam K the call's keyword arguments; @typeParam Y output type
 */
export abstract class Module<X = any, K extends object = Record<string, unknown>, Y = any> {
  /**
   * The module's name in its parent (Flax's `name=`).
   * @default `ClassName_k`, k counting unnamed modules of the same class in the parent
   */
  readonly name: string | undefined;

  constructor(options: { readonly name?: string | undefined } = {}) {
    this.name = options.name;
  }

  /** The class name used for automatic names (`Dense`, `BatchNorm`, …). */
  get flaxClassName(): string {
    return (this.constructor as { flaxName?: string }).flaxName ?? this.constructor.name;
  }

  /** The compact method, Flax's `@nn.compact def __call__(self, x, ...)`. */
  abstract call(scope: Scope, x: X, kwargs?: K): Y;

  /**
   * {@link call} for the `…Async` entry points (`applyAsync`, `initWithOutputAsync`,
   * `Scope.childAsync`), which may run on an asynchronous engine. The default runs `call`
   * (right for modules that compute no BatchNorm, e.g. `Dense`); `BatchNorm` overrides it to
   * await its engine, and a composed module overrides it to call its submodules through
   * {@link Scope.childAsync}.
   */
  async callAsync(scope: Scope, x: X, kwargs?: K): Promise<Y> {
    return this.call(scope, x, kwargs);
  }

  /**
   * Everything `init`/`apply` set up before the call — options split from the call's keyword
   * arguments, mutability, the working copy of the variables, the engine (which a synchronous
   * call requires to be synchronous), the root scope — and how to read the result. Shared by
   * the synchronous and `…Async` entry points.
   */
  #enter(variables: Variables, options: object | undefined, initializing: boolean, synchronous: boolean) {
    const [kwargs, opts] = splitOptions<K>(options);
    const mutable: (c: string) => boolean = initializing ? (c) => c !== 'intermediates' : (c) => inFilter(opts.mutable ?? false, c);
    // Registers the engine's tensor type before any variable tree is walked.
    const anyEngine = resolveAnyEngine(opts.engine);
    const vars: Variables = {};
    for (const [col, tree] of Object.entries(variables)) {
      if (!isDict(tree)) throw new ValueError(`collection "${col}" must be a dict of variables`);
      vars[col] = mutable(col) ? copyTree(tree) : tree;
    }
    const root: Root = {
      variables: vars,
      mutable,
      rngs: normalizeRngs(opts.rngs),
      initializing,
      engine: synchronous ? requireSync(anyEngine) : anyEngine,
      rngCounters: new Map(),
    };
    /** What `apply` returns: `y`, or `[y, updates]` with every mutable collection when `mutable` is given. */
    const applied = (y: Y): Y | [Y, Variables] => {
      if ((opts.mutable ?? false) === false) return y;
      const updates: Variables = {};
      for (const [col, tree] of Object.entries(vars)) if (mutable(col)) updates[col] = tree;
      return [y, updates];
    };
    return { scope: new Scope(root, [], this.flaxClassName), kwargs, vars, applied };
  }

  /** `apply`'s check of the variables' structure (`{'params': {'params': …}}` is a mistake). */
  static #checkApplyVariables(variables: Variables): void {
    const params = variables['params'];
    if (params !== undefined && isDict(params) && isDict(params['params'])) throw new ApplyScopeInvalidVariablesStructureError();
  }

  /**
   * `module.init(rng, x, **kwargs)`: runs the call with every collection mutable and returns
   * all variables created (`{params, batch_stats, …}`). BatchNorm does not update its
   * statistics while initialising.
   */
  init(rng: PRNGKey | Readonly<Record<string, PRNGKey>>, x: X, options?: K & Omit<ScopeOptions, 'rngs'>): Variables {
    return this.initWithOutput(rng, x, options)[1];
  }

  /** `module.init_with_output(rng, x, **kwargs)`: `[y, variables]`. */
  initWithOutput(rng: PRNGKey | Readonly<Record<string, PRNGKey>>, x: X, options?: K & Omit<ScopeOptions, 'rngs'>): [Y, Variables] {
    const run = this.#enter({}, { ...(options ?? {}), rngs: rng }, true, true);
    return [this.call(run.scope, x, run.kwargs), run.vars];
  }

  /** {@link init} on any engine (required for asynchronous ones): awaits {@link callAsync}. */
  async initAsync(rng: PRNGKey | Readonly<Record<string, PRNGKey>>, x: X, options?: K & Omit<ScopeOptions, 'rngs'>): Promise<Variables> {
    return (await this.initWithOutputAsync(rng, x, options))[1];
  }

  /** {@link initWithOutput} on any engine (required for asynchronous ones). */
  async initWithOutputAsync(rng: PRNGKey | Readonly<Record<string, PRNGKey>>, x: X, options?: K & Omit<ScopeOptions, 'rngs'>): Promise<[Y, Variables]> {
    const run = this.#enter({}, { ...(options ?? {}), rngs: rng }, true, false);
    return [await this.callAsync(run.scope, x, run.kwargs), run.vars];
  }

  /**
   * `module.apply(variables, x, **kwargs, mutable=…)`. With `mutable` given (not `false`)
   * returns `[y, updates]`, `updates` holding every mutable collection; otherwise `y`.
   */
  apply(variables: Variables, x: X, options: K & ApplyOptions & { readonly mutable: true | string | readonly string[] }): [Y, Variables];
  apply(variables: Variables, x: X, options?: K & ApplyOptions): Y;
  apply(variables: Variables, x: X, options?: K & ApplyOptions): Y | [Y, Variables] {
    Module.#checkApplyVariables(variables);
    const run = this.#enter(variables, options, false, true);
    return run.applied(this.call(run.scope, x, run.kwargs));
  }

  /**
   * {@link apply} on any engine (required for asynchronous ones, e.g. ONNX Runtime): the same
   * setup and checks, in the same order, then awaits {@link callAsync}. On a synchronous
   * engine it gives exactly what `apply` gives.
   */
  applyAsync(variables: Variables, x: X, options: K & ApplyOptions & { readonly mutable: true | string | readonly string[] }): Promise<[Y, Variables]>;
  applyAsync(variables: Variables, x: X, options?: K & ApplyOptions): Promise<Y>;
  async applyAsync(variables: Variables, x: X, options?: K & ApplyOptions): Promise<Y | [Y, Variables]> {
    Module.#checkApplyVariables(variables);
    const run = this.#enter(variables, options, false, false);
    return run.applied(await this.callAsync(run.scope, x, run.kwargs));
  }
}
