import type { Engine } from './engine.js';
import { UnsupportedError } from './errors.js';
import type { BatchNormSpec } from './spec.js';
import { STATE_TENSOR_KEYS, type BatchNormState, type Gradients, type Mode, type StepOptions } from './state.js';

/**
 * Mutable layer state over an immutable engine: what PyTorch, MLX, Keras and NNX modules do
 * when they overwrite their buffers after a training call. Shared by every stateful adapter so
 * that none of them re-implements commit and disposal. Replaced engine tensors are disposed.
 */
export class StatefulBatchNorm<T> {
  #state: BatchNormState<T>;

  constructor(
    readonly engine: Engine<T>,
    public spec: BatchNormSpec,
    state: BatchNormState<T>,
  ) {
    this.#state = state;
  }

  get state(): BatchNormState<T> {
    return this.#state;
  }

  /** Replaces the state, disposing tensors of the old state that the new one does not reuse. */
  replaceState(next: BatchNormState<T>): void {
    const keep = new Set<unknown>(STATE_TENSOR_KEYS.map((k) => next[k]));
    const old = this.#state;
    this.#state = next;
    for (const k of STATE_TENSOR_KEYS) {
      const t = old[k];
      if (t !== undefined && !keep.has(t)) this.engine.dispose(t);
    }
  }

  /** Runs one call on a synchronous engine; training commits the new state. */
  run(mode: Mode, x: T, options?: StepOptions<T>): T {
    const engine = this.#sync('forward');
    if (mode === 'eval') return engine.evaluate(this.spec, this.#state, x, options);
    const out = engine.train(this.spec, this.#state, x, options);
    engine.dispose(out.batchMean, out.batchVar);
    this.replaceState(out.state);
    return out.y;
  }

  /** Same as {@link run} on any engine. */
  async runAsync(mode: Mode, x: T, options?: StepOptions<T>): Promise<T> {
    if (mode === 'eval') return this.engine.evaluate(this.spec, this.#state, x, options);
    const out = await this.engine.train(this.spec, this.#state, x, options);
    this.engine.dispose(out.batchMean, out.batchVar);
    this.replaceState(out.state);
    return out.y;
  }

  /** Gradients of the output for a cotangent, without touching the state. */
  vjp(mode: Mode, x: T, dy: T, options?: StepOptions<T>): Gradients<T> {
    return this.#sync('vjp').vjp(this.spec, this.#state, x, dy, mode, options);
  }

  async vjpAsync(mode: Mode, x: T, dy: T, options?: StepOptions<T>): Promise<Gradients<T>> {
    return this.engine.vjp(this.spec, this.#state, x, dy, mode, options);
  }

  #sync(what: string) {
    if (!this.engine.synchronous) {
      throw new UnsupportedError(
        `${what}() on engine "${this.engine.name}"`,
        'this engine is asynchronous; call the Async variant and await it',
      );
    }
    return this.engine;
  }
}
