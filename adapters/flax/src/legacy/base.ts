import type { Engine } from '@normbridge/core';
import { resolveAnyEngine, resolveEngine } from '../backend.js';
import { pyShape, ValueError } from '../errors.js';
import type { Initializer } from '../initializers.js';
import { shapeOf, toEngine } from '../leaf.js';
import { split, type PRNGKey } from '../random.js';
import type { Tree } from '../tree.js';

/**
 * The functional module system of legacy `flax.nn` (flax ≤ 0.3.x): a module is an `apply`
 * function; calling it inside another module's apply creates a child frame named
 * `ClassName_k` with ONE counter shared by all unnamed children (`Dense_0`, `BatchNorm_1`,
 * `Dense_2`); `init` creates parameters, `call` reads them. State (running statistics) lives in
 * a {@link Collection} keyed by module path, provided by {@link stateful} or passed explicitly.
 */

class Frame {
  #counter = 0;
  readonly children = new Set<string>();
  constructor(
    readonly name: string | undefined,
    readonly parent: Frame | undefined,
    public rng: PRNGKey | undefined,
    readonly params: Tree,
    readonly engine: Engine<any>,
  ) {}

  get isInit(): boolean {
    return this.rng !== undefined;
  }

  /** Unix-like path: `'/'` for an unnamed root, `'/BatchNorm_1'`, `'/block/bn'`. */
  get path(): string {
    if (this.parent === undefined) return this.name === undefined ? '/' : `/${this.name}`;
    const p = this.parent.path;
    return `${p.endsWith('/') ? p : `${p}/`}${this.name}`;
  }

  isDescendantOf(frame: Frame | undefined): boolean {
    if (frame === undefined) return true;
    return this.parent === frame || (this.parent?.isDescendantOf(frame) ?? false);
  }

  createName(): string {
    return String(this.#counter++);
  }

  nextKey(): PRNGKey {
    const [a, b] = split(this.rng!);
    this.rng = a;
    return b!;
  }
}

const moduleStack: Frame[] = [];
const stateStack: Collection[] = [];

function topFrame(what: string): Frame {
  const f = moduleStack[moduleStack.length - 1];
  if (!f) throw new ValueError(`${what} should only be used inside a module's apply function.`);
  return f;
}

/**
 * `flax.nn.Collection`: state keyed by module path relative to its anchor (the module active
 * when it was created; the top level for collections made outside any module).
 */
export class Collection<L = any> {
  /** The flat path-keyed dict, e.g. `{'/BatchNorm_1': {mean, var}}`. */
  state: Record<string, Record<string, L>>;
  #mutable = false;
  #anchor: Frame | undefined;

  constructor(state: Record<string, Record<string, L>> = {}) {
    this.state = state;
    this.#anchor = moduleStack[moduleStack.length - 1];
  }

  /** `collection.as_dict()`: a copy of the path-keyed dict (what flax serialization stores). */
  asDict(): Record<string, Record<string, L>> {
    return { ...this.state };
  }

  /** `collection[path]`. */
  get(path: string): Record<string, L> | undefined {
    return this.state[path];
  }

  get mutable(): boolean {
    return this.#mutable;
  }

  /** `with collection.mutate() as c:` — a mutable copy for the duration of `fn`. */
  mutate<R>(fn: (copy: Collection<L>) => R): [R, Collection<L>] {
    const copy = this.#clone();
    copy.#mutable = true;
    try {
      return [fn(copy), copy];
    } finally {
      copy.#mutable = false;
    }
  }

  /** {@link mutate} for an asynchronous `fn`: the copy stays mutable until `fn`'s promise settles. */
  async mutateAsync<R>(fn: (copy: Collection<L>) => R | Promise<R>): Promise<[Awaited<R>, Collection<L>]> {
    const copy = this.#clone();
    copy.#mutable = true;
    try {
      return [await fn(copy), copy];
    } finally {
      copy.#mutable = false;
    }
  }

  #clone(): Collection<L> {
    const c = new Collection<L>(Object.fromEntries(Object.entries(this.state).map(([k, v]) => [k, { ...v }])));
    c.#anchor = this.#anchor;
    return c;
  }

  #currentPath(): string {
    const frame = topFrame('retrieve');
    const path = frame.path;
    const anchor = this.#anchor?.path;
    if (anchor === undefined) return path;
    const rel = path.slice(anchor.length);
    return rel.startsWith('/') ? rel : `/${rel}`;
  }

  /** `collection.retrieve(default)`: the value stored for the current module. */
  retrieve<D>(fallback: D): Record<string, L> | D {
    return this.state[this.#currentPath()] ?? fallback;
  }

  /** `collection.store(value)`: raises unless mutable (inside `stateful` / `mutate`). */
  store(value: Record<string, L>): void {
    const frame = topFrame('store');
    if (!this.#mutable) throw new ValueError('Collection is not mutable. Use the `mutate` method to create a mutable copy.');
    if (frame === this.#anchor) {
      throw new ValueError('State should be stored from within a module. Consider using the value directly instead of storing it in a Collection.');
    }
    if (!frame.isDescendantOf(this.#anchor)) {
      throw new ValueError('Trying to capture state outside the scope of this Collection. Most likely due to passing around a shared Module.');
    }
    this.state[this.#currentPath()] = value;
  }
}

/** Options of {@link stateful}. */
export interface StatefulOptions {
  /**
   * Work on a mutable copy of the state (returned as the new state); `false` uses the state
   * itself read-only, so a training call's write raises `ValueError('Collection is not mutable. …')`.
   * @default true
   */
  readonly mutable?: boolean | undefined;
}

/**
 * `with nn.stateful(state, mutable=…) as new_state:` — runs `fn` with `state` as the state of
 * every module (the innermost context wins) and returns `[result, newState]`. Mutable (the
 * default): a mutable copy is used and returned; `mutable: false`: `state` itself, and any
 * training write raises `ValueError('Collection is not mutable. …')`. No `state` starts empty.
 */
export function stateful<R>(state: Collection | undefined, fn: (newState: Collection) => R, options: StatefulOptions = {}): [R, Collection] {
  const base = state ?? new Collection();
  if (options.mutable ?? true) return base.mutate((copy) => withState(copy, fn));
  return [withState(base, fn), base];
}

/** Runs `fn` with `collection` as the innermost stateful context. */
function withState<R>(collection: Collection, fn: (c: Collection) => R): R {
  stateStack.push(collection);
  try {
    return fn(collection);
  } finally {
    stateStack.pop();
  }
}

/**
 * {@link stateful} for an asynchronous `fn` — `await nn.statefulAsync(state, () =>
 * nn.BatchNorm.callAsync(params, x, kwargs))` is `with nn.stateful(state) as new_state:` around
 * a call on an asynchronous engine. Same options, same `[result, newState]`; the context (and,
 * by default, the mutable copy) stays active until `fn`'s promise settles, so every call `fn`
 * makes, before or after its awaits, sees it. Like Flax's, the context is global: nested
 * contexts are fine (the innermost wins), but do not run two `statefulAsync` contexts
 * concurrently (e.g. under one `Promise.all`) — a call would see whichever is innermost at
 * the time. Pass `batchStats` explicitly to calls that must run concurrently.
 */
export async function statefulAsync<R>(
  state: Collection | undefined,
  fn: (newState: Collection) => R | Promise<R>,
  options: StatefulOptions = {},
): Promise<[Awaited<R>, Collection]> {
  const base = state ?? new Collection();
  if (options.mutable ?? true) return base.mutateAsync((copy) => withStateAsync(copy, fn));
  return [await withStateAsync(base, fn), base];
}

/** {@link withState} until `fn`'s promise settles; the context is removed by identity. */
async function withStateAsync<R>(collection: Collection, fn: (c: Collection) => R | Promise<R>): Promise<Awaited<R>> {
  stateStack.push(collection);
  try {
    return await fn(collection);
  } finally {
    stateStack.splice(stateStack.lastIndexOf(collection), 1);
  }
}

/** `nn.is_stateful()`: whether a {@link stateful} context is active. */
export function isStateful(): boolean {
  return stateStack.length > 0;
}

/** `nn.get_state()`: the innermost stateful collection. */
export function getState(): Collection {
  const s = stateStack[stateStack.length - 1];
  if (!s) throw new ValueError('Use the flax.nn.stateful context manager to enable stateful computations.');
  return s;
}

/** `ModuleState`: a named state variable of the current module in a collection. */
export class ModuleState<L = any> {
  constructor(
    readonly collection: Collection<L>,
    readonly name: string,
  ) {}

  get value(): L {
    const d = this.collection.retrieve({} as Record<string, L>);
    if (!(this.name in d)) throw new ValueError(`No state variable named \`${this.name}\` exists.`);
    return d[this.name]!;
  }

  set value(v: L) {
    const d = { ...this.collection.retrieve({} as Record<string, L>), [this.name]: v };
    this.collection.store(d);
  }
}

/** What a module's apply function sees as `self`. */
export class ModuleContext {
  /** @internal */
  constructor(readonly frame: Frame) {}

  /**
   * The engine BatchNorm computes with (given to `init`/`call`): synchronous for `init`/`call`,
   * any engine for `initAsync`/`callAsync`.
   */
  get engine(): Engine<any> {
    return this.frame.engine;
  }

  /**
   * Runs `fn` with this module's frame active again: an asynchronous apply function resumes
   * after an await outside its frame, and must re-enter it to store state (paths and the
   * `Collection.store` checks read the active frame).
   */
  within<R>(fn: () => R): R {
    moduleStack.push(this.frame);
    try {
      return fn();
    } finally {
      moduleStack.pop();
    }
  }

  /** `self.param(name, shape, initializer)`. */
  param<L = any>(name: string, shape: readonly number[], initializer: Initializer, convert?: (v: any) => L): L {
    const f = this.frame;
    if (f.isInit) {
      if (name in f.params) throw new ValueError(`Name '${name}' was already used for another parameter.`);
      const raw = initializer(f.nextKey(), shape, 'float32');
      const value = convert ? convert(raw) : toEngine(this.engine, raw);
      f.params[name] = value;
      return value as L;
    }
    if (!(name in f.params)) throw new ValueError(`Parameter with name '${name}' does not exist.`);
    const value = f.params[name] as L;
    const have = shapeOf(value);
    if (have.length !== shape.length || have.some((d, i) => d !== shape[i])) {
      throw new ValueError(`Existing shape ${pyShape(have)} differs from requested shape ${pyShape(shape)}`);
    }
    return value;
  }

  /**
   * `self.state(name, shape, initializer, collection)`: a state variable in `collection` (the
   * innermost stateful context's by default). While some enclosing frame initialises, its
   * initial value is stored right away (which needs a mutable collection).
   */
  state<L = any>(
    name: string,
    shape: readonly number[],
    initializer: Initializer | undefined,
    collection?: Collection<L>,
    convert?: (v: any) => L,
  ): ModuleState<L> {
    const col = (collection ?? getState()) as Collection<L>;
    const s = new ModuleState<L>(col, name);
    const initFrames = moduleStack.filter((fr) => fr.isInit);
    if (initializer !== undefined && initFrames.length > 0) {
      const key = initFrames[initFrames.length - 1]!.nextKey();
      const raw = initializer(key, shape, 'float32');
      s.value = convert ? convert(raw) : (toEngine(this.engine, raw) as L);
    }
    return s;
  }

  isStateful(): boolean {
    return isStateful();
  }

  /** `self.is_initializing()`: this frame was created by `init`. */
  isInitializing(): boolean {
    return this.frame.isInit;
  }
}

/** Options every module call accepts. */
export interface ModuleCallOptions {
  /** Name in the parent (`name=`). @default `ClassName_k`, k from the parent's shared counter */
  readonly name?: string | undefined;
}

/** Options of a top-level `init`/`call`. */
export interface TopLevelOptions {
  /** Root frame name. @default none (paths start at `/`) */
  readonly name?: string | undefined;
  /** The engine BatchNorm computes with (normbridge's addition). @default core's default engine */
  readonly engine?: Engine<any> | undefined;
}

/** A legacy module: call it inside another module's apply, or `init`/`call` it at top level. */
export interface ModuleDef<X, K extends object, Y> {
  (x: X, kwargs?: K & ModuleCallOptions): Y;
  readonly className: string;
  /** `Module.init(rng, x, **kwargs)`: `[y, params]`. */
  init(rng: PRNGKey, x: X, kwargs?: K & TopLevelOptions): [Y, Tree];
  /** `Module.call(params, x, **kwargs)`. */
  call(params: Tree, x: X, kwargs?: K & TopLevelOptions): Y;
  /**
   * {@link init} on any engine (required for asynchronous ones). Same frame, names, keys and
   * errors; the module's asynchronous apply function is awaited (a module defined without one
   * runs its apply function, which must then compute nothing on an asynchronous engine).
   */
  initAsync(rng: PRNGKey, x: X, kwargs?: K & TopLevelOptions): Promise<[Y, Tree]>;
  /**
   * {@link call} on any engine (required for asynchronous ones, e.g. ONNX Runtime): top level
   * only, inside whatever `nn.stateful`/{@link statefulAsync} context is active (use
   * `statefulAsync` to keep a context for the awaited call). On a synchronous engine it gives
   * exactly what `call` gives.
   */
  callAsync(params: Tree, x: X, kwargs?: K & TopLevelOptions): Promise<Y>;
  /** `Module.partial(**kwargs)`. */
  partial(kwargs: Partial<K> & ModuleCallOptions): ModuleDef<X, K, Y>;
}

/** A module's apply function; its asynchronous variant is awaited by `initAsync`/`callAsync`. */
type ApplyFn<X, K, Y> = (self: ModuleContext, x: X, kwargs: K) => Y;
type ApplyAsyncFn<X, K, Y> = (self: ModuleContext, x: X, kwargs: K) => Promise<Y>;

function runFrame<X, K extends object, Y>(frame: Frame, apply: ApplyFn<X, K, Y>, x: X, kwargs: K): Y {
  const self = new ModuleContext(frame);
  return self.within(() => apply(self, x, kwargs));
}

function strip<K extends object>(kwargs: object): K {
  const { name: _n, engine: _e, ...rest } = kwargs as Record<string, unknown>;
  return rest as K;
}

/**
 * `nn.module` / a `flax.nn.Module` subclass: `apply(self, x, kwargs)` becomes a module named
 * `className`.
 */
export function module<X, K extends object, Y>(
  className: string,
  apply: ApplyFn<X, K, Y>,
  defaults: Partial<K> & ModuleCallOptions = {},
): ModuleDef<X, K, Y> {
  return defineModule(className, apply, undefined, defaults);
}

/**
 * {@link module} with an asynchronous apply function for `initAsync`/`callAsync` (BatchNorm's:
 * the same setup as `apply`, the engine awaited). It runs in the module's frame up to its first
 * await and re-enters it with {@link ModuleContext.within} to store state afterwards.
 */
export function asyncModule<X, K extends object, Y>(
  className: string,
  apply: ApplyFn<X, K, Y>,
  applyAsync: ApplyAsyncFn<X, K, Y>,
  defaults: Partial<K> & ModuleCallOptions = {},
): ModuleDef<X, K, Y> {
  return defineModule(className, apply, applyAsync, defaults);
}

function defineModule<X, K extends object, Y>(
  className: string,
  apply: ApplyFn<X, K, Y>,
  applyAsync: ApplyAsyncFn<X, K, Y> | undefined,
  defaults: Partial<K> & ModuleCallOptions,
): ModuleDef<X, K, Y> {
  const def = (x: X, kwargs: K & ModuleCallOptions = {} as K) => {
    const all = { ...defaults, ...kwargs } as K & ModuleCallOptions;
    if (moduleStack.length === 0) throw new ValueError('A Module should only be instantiated directly inside another module.');
    const parent = moduleStack[moduleStack.length - 1]!;
    const name = all.name ?? `${className}_${parent.createName()}`;
    if (name.includes('/') || name.includes(':')) throw new ValueError('Name should not contain slashes or colons.');
    // Flax's message here lacks its f-string prefix; the braces are printed as they are.
    if (parent.children.has(name)) throw new ValueError('A module with named "{name}" already exists.');
    parent.children.add(name);
    let params: Tree;
    let rng: PRNGKey | undefined;
    if (parent.isInit && !(name in parent.params)) {
      rng = parent.nextKey();
      params = {};
      parent.params[name] = params;
    } else {
      if (!(name in parent.params)) throw new ValueError(`No module named ${name} was created during initialization.`);
      params = parent.params[name] as Tree;
    }
    return runFrame(new Frame(name, parent, rng, params, parent.engine), apply, x, strip<K>(all));
  };
  /** The root frame of a top-level `init`/`call` (synchronous: its engine must be). */
  const topFrame = (rng: PRNGKey | undefined, params: Tree, kwargs: K & TopLevelOptions, synchronous: boolean) => {
    const all = { ...defaults, ...kwargs } as K & TopLevelOptions;
    const parent = moduleStack[moduleStack.length - 1];
    const engine = all.engine ?? parent?.engine;
    const frame = new Frame(all.name, parent, rng, params, synchronous ? resolveEngine(engine) : resolveAnyEngine(engine));
    return { frame, kw: strip<K>(all) };
  };
  const top = (rng: PRNGKey | undefined, params: Tree, x: X, kwargs: K & TopLevelOptions): [Y, Tree] => {
    const { frame, kw } = topFrame(rng, params, kwargs, true);
    return [runFrame(frame, apply, x, kw), frame.params];
  };
  const topAsync = async (rng: PRNGKey | undefined, params: Tree, x: X, kwargs: K & TopLevelOptions): Promise<[Y, Tree]> => {
    const { frame, kw } = topFrame(rng, params, kwargs, false);
    const self = new ModuleContext(frame);
    // The frame is active while the apply function runs synchronously (its setup); it re-enters
    // the frame itself after awaiting the engine.
    const y = applyAsync ? self.within(() => applyAsync(self, x, kw)) : Promise.resolve(runFrame(frame, apply, x, kw));
    return [await y, frame.params];
  };
  return Object.assign(def, {
    className,
    init: (rng: PRNGKey, x: X, kwargs: K & TopLevelOptions = {} as K) => top(rng, {}, x, kwargs),
    call: (params: Tree, x: X, kwargs: K & TopLevelOptions = {} as K) => top(undefined, params, x, kwargs)[0],
    initAsync: (rng: PRNGKey, x: X, kwargs: K & TopLevelOptions = {} as K) => topAsync(rng, {}, x, kwargs),
    callAsync: async (params: Tree, x: X, kwargs: K & TopLevelOptions = {} as K) => (await topAsync(undefined, params, x, kwargs))[0],
    partial(kw: Partial<K> & ModuleCallOptions) {
      return defineModule(className, apply, applyAsync, { ...defaults, ...kw });
    },
  }) as ModuleDef<X, K, Y>;
}

/** `nn.Model(module, params)`: `model(x)` is `module.call(params, x)`. */
export class Model<X, K extends object, Y> {
  constructor(
    readonly module: ModuleDef<X, K, Y>,
    readonly params: Tree,
  ) {}

  call(x: X, kwargs?: K & TopLevelOptions): Y {
    return this.module.call(this.params, x, kwargs);
  }
}
