import { ValueError, pyStr } from '../errors.js';
import { cloneLeaf } from '../leaf.js';
import { Variable, VariableState } from './variables.js';

/** A path in a module graph: attribute names and list indices, e.g. `['layers', 1, 'var']`. */
export type GraphPath = readonly (string | number)[];

/**
 * An NNX module: a plain object whose attributes hold variables, submodules and lists of
 * them. Attributes are found by walking own enumerable properties in sorted order.
 */
export abstract class Module {
  /**
   * `module.train()`: `set_attributes(deterministic=False, use_running_average=False,
   * raise_if_not_found=False)` on this module and every submodule.
   */
  train(attributes: Readonly<Record<string, unknown>> = {}): this {
    return this.setAttributes({ deterministic: false, useRunningAverage: false, ...attributes }, { raiseIfNotFound: false });
  }

  /** `module.eval()`: `deterministic=True, use_running_average=True`. */
  eval(attributes: Readonly<Record<string, unknown>> = {}): this {
    return this.setAttributes({ deterministic: true, useRunningAverage: true, ...attributes }, { raiseIfNotFound: false });
  }

  /**
   * `module.set_attributes(**attrs, raise_if_not_found=True)`: sets each attribute on every
   * module of the graph that has it. With `raiseIfNotFound`, attributes no module has raise
   * `ValueError('Could not find at least one instance of the following attributes: [...]')`.
   */
  setAttributes(attributes: Readonly<Record<string, unknown>>, options: { readonly raiseIfNotFound?: boolean } = {}): this {
    const found = new Set<string>();
    for (const [, m] of iterModules(this)) {
      for (const [name, value] of Object.entries(attributes)) {
        if (name in m) {
          (m as unknown as Record<string, unknown>)[name] = value;
          found.add(name);
        }
      }
    }
    const missing = Object.keys(attributes).filter((n) => !found.has(n));
    if ((options.raiseIfNotFound ?? true) && missing.length > 0) {
      throw new ValueError(`Could not find at least one instance of the following attributes: [${missing.map(pyStr).join(', ')}]`);
    }
    return this;
  }
}

/** NNX's key order: list indices numerically, names by code point. */
function sortKeys(keys: string[]): string[] {
  const int = /^\d+$/;
  return keys.sort((a, b) => {
    if (int.test(a) && int.test(b)) return Number(a) - Number(b);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

type Visit = (path: GraphPath, v: Variable | Module) => void;

function walk(node: unknown, path: GraphPath, visit: Visit, seen: Set<unknown>): void {
  if (node instanceof Variable) {
    visit(path, node);
    return;
  }
  if (node instanceof Module) {
    if (seen.has(node)) return;
    seen.add(node);
    visit(path, node);
    for (const k of sortKeys(Object.keys(node))) walk((node as unknown as Record<string, unknown>)[k], [...path, k], visit, seen);
    return;
  }
  if (Array.isArray(node)) node.forEach((v, i) => walk(v, [...path, i], visit, seen));
}

/** `module.iter_modules()`: every module of the graph (this one first) with its path. */
export function iterModules(root: Module): [GraphPath, Module][] {
  const out: [GraphPath, Module][] = [];
  walk(root, [], (p, v) => v instanceof Module && out.push([p, v]), new Set());
  return out;
}

/** Every variable of the graph with its path, in NNX's sorted order. */
export function iterVariables(root: Module): [GraphPath, Variable][] {
  const out: [GraphPath, Variable][] = [];
  walk(root, [], (p, v) => v instanceof Variable && out.push([p, v]), new Set());
  return out;
}

/**
 * A variable filter as NNX takes them: a variable class (`Param`, `BatchStat`), `true` or
 * `'...'` for everything, or a predicate on path and variable.
 */
export type Filter = (abstract new (...args: any[]) => Variable) | true | '...' | ((path: GraphPath, v: Variable) => boolean);

function matches(filter: Filter, path: GraphPath, v: Variable): boolean {
  if (filter === true || filter === '...') return true;
  if (typeof filter === 'function' && (filter === Variable || filter.prototype instanceof Variable)) {
    return v instanceof (filter as abstract new (...args: any[]) => Variable);
  }
  return (filter as (p: GraphPath, v: Variable) => boolean)(path, v);
}

/**
 * An NNX `State`: nested by path (list indices as string keys), leaves {@link VariableState}
 * snapshots. Values are cloned handles (`tf.clone` shares data), so they stay valid after the
 * module's next training call replaces (and disposes) its statistics.
 */
export interface State {
  [key: string]: VariableState | State;
}

function buildState(entries: readonly [GraphPath, Variable][]): State {
  const out: State = {};
  for (const [path, v] of entries) {
    let d = out;
    for (const p of path.slice(0, -1)) d = (d[String(p)] ??= {}) as State;
    d[String(path[path.length - 1])] = new VariableState(v.type, cloneLeaf(v.value));
  }
  return out;
}

/** `nnx.state(module, *filters)`: one State (no filter or one), or one per filter. */
export function state(module: Module): State;
export function state(module: Module, filter: Filter): State;
export function state(module: Module, ...filters: Filter[]): State | State[];
export function state(module: Module, ...filters: Filter[]): State | State[] {
  const vars = iterVariables(module);
  if (filters.length === 0) return buildState(vars);
  const states = filters.map((f) => buildState(vars.filter(([p, v]) => matches(f, p, v))));
  return filters.length === 1 ? states[0]! : states;
}

/** The static part of a split module. Holds the module itself: {@link update} writes states back into it. */
export class GraphDef {
  constructor(
    readonly module: Module,
    readonly paths: readonly GraphPath[],
  ) {}
}

/**
 * `nnx.split(module, *filters)`: `[graphdef, state_1, …]`, each variable in the state of the
 * first filter it matches. Filters must cover every variable (else NNX's `ValueError`
 * `Non-exhaustive filters…`); none means one state of everything.
 */
export function split(module: Module, ...filters: Filter[]): [GraphDef, ...State[]] {
  const vars = iterVariables(module);
  const fs = filters.length === 0 ? ['...' as const] : filters;
  const buckets: [GraphPath, Variable][][] = fs.map(() => []);
  const rest: [GraphPath, Variable][] = [];
  for (const entry of vars) {
    const i = fs.findIndex((f) => matches(f, entry[0], entry[1]));
    (i < 0 ? rest : buckets[i]!).push(entry);
  }
  if (rest.length > 0) {
    const listed = rest.map(([p, v]) => `${p.join('/')}: ${v.type}`).join(', ');
    throw new ValueError(`Non-exhaustive filters, got a non-empty remainder: {${listed}}.\nUse \`...\` to match all remaining elements.`);
  }
  return [new GraphDef(module, vars.map(([p]) => p)), ...buckets.map(buildState)];
}

/** Leaves of a State with their paths (list indices as numbers where the module has lists). */
export function flatState(s: State, prefix: readonly string[] = []): [string[], VariableState][] {
  const out: [string[], VariableState][] = [];
  for (const k of sortKeys(Object.keys(s))) {
    const v = s[k]!;
    if (v instanceof VariableState) out.push([[...prefix, k], v]);
    else out.push(...flatState(v, [...prefix, k]));
  }
  return out;
}

/** `nnx.update(module, *states)`: assigns the states' values to the module's variables by path. */
export function update(module: Module, ...states: State[]): void {
  const byPath = new Map(iterVariables(module).map(([p, v]) => [p.map(String).join('/'), v]));
  // Every path is resolved before any variable is written: an unknown path leaves the module
  // exactly as it was (a failed update must not half-apply).
  const writes: [{ value: unknown }, unknown][] = [];
  for (const s of states) {
    for (const [path, vs] of flatState(s)) {
      const v = byPath.get(path.join('/'));
      if (!v) throw new ValueError(`No variable at path ${path.join('/')}`);
      writes.push([v, vs.value]);
    }
  }
  for (const [v, value] of writes) v.value = value;
}

/** A nested dict of arrays (NNX `to_pure_dict`), list indices as string keys. */
export interface PureDict {
  [key: string]: unknown;
}

/** `nnx.to_pure_dict(state)`: the state without variable types. */
export function toPureDict(s: State): PureDict {
  const out: PureDict = {};
  for (const k of sortKeys(Object.keys(s))) {
    const v = s[k]!;
    out[k] = v instanceof VariableState ? v.value : toPureDict(v);
  }
  return out;
}
