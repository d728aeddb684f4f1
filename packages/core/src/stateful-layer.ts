import { requireSync, type Engine } from './engine.js';
import type { BatchNormSpec } from './spec.js';
import { stateTensorsOf, type BatchNormState, type Gradients, type Mode, type StepOptions } from './state.js';

/**
 * What a layer keeps of a training call's new state. The default keeps it whole;
 * `torch.nn.SyncBatchNorm` keeps one replica's row of the stacked running statistics. Tensors
 * of `next` that the result does not hold are disposed by {@link LayerState}.
 */
export type CommitHook<T> = (next: BatchNormState<T>, engine: Engine<T>) => BatchNormState<T>;

/** Per-call options of {@link LayerState.run}: the engine's step options plus two hooks. */
export interface LayerRunOptions<T> extends StepOptions<T> {
  /**
   * The state as this call's engine sees it, e.g. the stored tensors reshaped to the call's
   * feature layout (NNX). Tensors of the view that the stored state does not hold are
   * disposed after the call; a training call's `commit` maps the new state back.
   * @default the stored state
   */
  readonly view?: (state: BatchNormState<T>) => BatchNormState<T>;
  /**
   * What to keep of the new state after a training call.
   * @default the new state as the engine returned it
   */
  readonly commit?: CommitHook<T>;
}

/**
 * The mutable state of a stateful BatchNorm layer over an immutable engine: what PyTorch, MLX,
 * Keras and NNX modules do when they overwrite their buffers after a training call. Each call
 * names its spec (layers whose flags change between calls build it per call); training runs
 * the engine, frees the batch statistics, commits the new state (through an optional hook)
 * and disposes the tensors it replaced. Every stateful adapter goes through here.
 * Its bookkeeping is on the per-call path (ARCHITECTURE.md): a [32, 64, 56, 56] nb-wasm train
 * call spent about 22 µs here with a Set, a rest object and array callbacks, 16 µs without.
 */
export class LayerState<T> {
  #state: BatchNormState<T>;

  constructor(
    readonly engine: Engine<T>,
    state: BatchNormState<T>,
  ) {
    this.#state = state;
  }

  get state(): BatchNormState<T> {
    return this.#state;
  }

  /** Replaces the state, disposing tensors of the old state that the new one does not reuse. */
  replace(next: BatchNormState<T>): void {
    const old = this.#state;
    this.#state = next;
    this.#disposeExcept([old], [next]);
  }

  /**
   * One call on a synchronous engine (an asynchronous one raises {@link requireSync}'s error):
   * eval returns the output; train also commits the new state.
   */
  run(spec: BatchNormSpec, mode: Mode, x: T, options: LayerRunOptions<T> = {}): T {
    const engine = requireSync(this.engine, 'run()', 'runAsync()');
    const step = stepOptions(options);
    const before = this.#state;
    const seen = options.view ? options.view(before) : before;
    try {
      if (mode === 'eval') return engine.evaluate(spec, seen, x, step);
      const out = engine.train(spec, seen, x, step);
      engine.dispose(out.batchMean, out.batchVar);
      this.#commit(out.state, options.commit, seen);
      return out.y;
    } finally {
      if (this.#state === before && seen !== before) this.#disposeExcept([seen], [before]);
    }
  }

  /** {@link run} on any engine. */
  async runAsync(spec: BatchNormSpec, mode: Mode, x: T, options: LayerRunOptions<T> = {}): Promise<T> {
    const step = stepOptions(options);
    const before = this.#state;
    const seen = options.view ? options.view(before) : before;
    try {
      if (mode === 'eval') return await this.engine.evaluate(spec, seen, x, step);
      const out = await this.engine.train(spec, seen, x, step);
      this.engine.dispose(out.batchMean, out.batchVar);
      this.#commit(out.state, options.commit, seen);
      return out.y;
    } finally {
      if (this.#state === before && seen !== before) this.#disposeExcept([seen], [before]);
    }
  }

  /** Gradients of the output for a cotangent on a synchronous engine, without touching the state. */
  vjp(spec: BatchNormSpec, mode: Mode, x: T, dy: T, options?: StepOptions<T>): Gradients<T> {
    return requireSync(this.engine, 'vjp()', 'vjpAsync()').vjp(spec, this.#state, x, dy, mode, options);
  }

  /** {@link vjp} on any engine. */
  async vjpAsync(spec: BatchNormSpec, mode: Mode, x: T, dy: T, options?: StepOptions<T>): Promise<Gradients<T>> {
    return this.engine.vjp(spec, this.#state, x, dy, mode, options);
  }

  #commit(next: BatchNormState<T>, hook: CommitHook<T> | undefined, seen: BatchNormState<T>): void {
    const kept = hook ? hook(next, this.engine) : next;
    // A call inside a framework scope (tf.tidy, tf.grad) must not free what the layer stores.
    for (const t of stateTensorsOf(kept)) if (t !== undefined) this.engine.retain(t);
    const old = this.#state;
    this.#state = kept;
    // Everything the call saw or made that the layer no longer holds (replaced statistics, a
    // stack the hook took a row of, reshaped views) is freed, each tensor once.
    this.#disposeExcept([old, seen, next], [kept]);
  }

  /** Disposes each tensor of `states` that none of `keep` holds, once. */
  #disposeExcept(states: readonly BatchNormState<T>[], keep: readonly BatchNormState<T>[]): void {
    const held: (T | undefined)[] = [];
    for (const s of keep) for (const t of stateTensorsOf(s)) held.push(t);
    const disposed: T[] = [];
    for (const s of states) {
      for (const t of stateTensorsOf(s)) {
        if (t === undefined || held.includes(t) || disposed.includes(t)) continue;
        disposed.push(t);
        this.engine.dispose(t);
      }
    }
  }
}

/** The engine's part of a call's options: the same object unless a hook has to be left out. */
function stepOptions<T>(options: LayerRunOptions<T>): StepOptions<T> {
  if (options.view === undefined && options.commit === undefined) return options;
  const { commit: _commit, view: _view, ...step } = options;
  return step;
}
