/**
 * NNX variables: mutable boxes typed by class (`nnx.Param`, `nnx.BatchStat`). Filters in
 * {@link split}/{@link state} select variables by these classes, as NNX's do.
 */
import { flaxLinen } from '@normbridge/frameworks';

export class Variable<V = any> {
  #get: () => V;
  #set: (v: V) => void;

  constructor(value: V) {
    let slot = value;
    this.#get = () => slot;
    this.#set = (v) => {
      slot = v;
    };
  }

  /** The variable type's name as NNX prints it (`Param`, `BatchStat`). */
  get type(): string {
    return (this.constructor as { nnxName?: string }).nnxName ?? this.constructor.name;
  }

  get value(): V {
    return this.#get();
  }

  set value(v: V) {
    this.#set(v);
  }

  /**
   * Makes this variable a view of storage owned elsewhere (a BatchNorm's engine state), so
   * that reading and assigning `value` go through the owner.
   * @internal
   */
  bindStorage(get: () => V, set: (v: V) => void): this {
    this.#get = get;
    this.#set = set;
    return this;
  }
}

/** `nnx.Param`: trainable parameters (`scale`, `bias`, `kernel`). Linen collection `params`. */
export class Param<V = any> extends Variable<V> {
  static readonly nnxName = 'Param';
}

/** `nnx.BatchStat`: running statistics (`mean`, `var`). Linen collection `batch_stats`. */
export class BatchStat<V = any> extends Variable<V> {
  static readonly nnxName = 'BatchStat';
}

/** A variable in a {@link State}: its type and a snapshot of its value. */
export class VariableState<V = any> {
  constructor(
    readonly type: string,
    readonly value: V,
  ) {}
}

/** The linen collection a variable type corresponds to (`register_variable_name`). */
export function collectionOf(type: string): string {
  const collections = flaxLinen.collections!;
  if (type === 'Param') return collections.params;
  if (type === 'BatchStat') return collections.stats;
  return type;
}
