/**
 * Tensor kinds: tensor types a user may hand to an adapter that no engine in use owns (a
 * `tf.Tensor` passed to Flax while it runs on the reference engine). The package that knows the
 * type registers it on import, so adapters can move and relabel such tensors without a runtime
 * dependency on their library (`@normbridge/tfjs` registers `tf.Tensor`).
 */
import { NormbridgeError } from './errors.js';
import type { HostTensor } from './tensor.js';

/** How to recognise and handle one kind of tensor; no arithmetic, only data movement. */
export interface TensorKind<T = any> {
  /** Stable name, e.g. `'tf'`; registering a kind of the same name again replaces it. */
  readonly name: string;
  /** Whether `v` is a tensor of this kind. */
  owns(v: unknown): v is T;
  shapeOf(t: T): readonly number[];
  /** Same data, another shape of the same size (no copy). */
  reshape(t: T, shape: readonly number[]): T;
  /** A new handle that stays valid when `t` is disposed. */
  clone(t: T): T;
  /** Row `index` of a tensor stacked on a leading axis (`t[index]`). */
  row(t: T, index: number): T;
  /** Row-major values on the host, synchronously (absent where the kind cannot read back synchronously). */
  toHostSync?(t: T): HostTensor;
}

const kinds = new Map<string, TensorKind>();

/** Makes a tensor kind known to every adapter (idempotent per `name`). */
export function registerTensorKind<T>(kind: TensorKind<T>): void {
  kinds.set(kind.name, kind as TensorKind);
}

/** The registered kind that owns `v`, or `undefined`. */
export function tensorKindOf(v: unknown): TensorKind | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  for (const kind of kinds.values()) if (kind.owns(v)) return kind;
  return undefined;
}

/** The registered kind of this name, or `undefined`. */
export function tensorKindNamed(name: string): TensorKind | undefined {
  return kinds.get(name);
}

/**
 * A tensor of a known library reached an adapter while the package that registers its kind was
 * never imported (a `tf.Tensor` without `@normbridge/tfjs`): refused rather than misread as a
 * nested dict or a non-array.
 */
export class UnregisteredTensorKindError extends NormbridgeError {
  readonly kind: string;
  readonly providedBy: string;
  constructor(kind: string, providedBy: string, where: string) {
    super(
      'unregistered-tensor-kind',
      `${where}: got a ${kind} but no tensor kind "${kind}" is registered; import '${providedBy}' once (e.g. \`import '${providedBy}';\`) before passing ${kind}s to normbridge.`,
    );
    this.kind = kind;
    this.providedBy = providedBy;
  }
}
