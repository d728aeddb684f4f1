import { NormbridgeError } from '@normbridge/core';

/**
 * The exception class Keras (Python) or tfjs-layers (JavaScript) raises for the same
 * condition; tfjs-layers names its classes after Python's (`ValueError`, `NotImplementedError`).
 */
export type KerasErrorType = 'ValueError' | 'IndexError' | 'TypeError' | 'NotImplementedError';

/** An error Keras / tfjs-layers would raise: `pythonType` names the class, the message says what theirs says. */
export class KerasError extends NormbridgeError {
  readonly pythonType: KerasErrorType;
  constructor(pythonType: KerasErrorType, message: string, options?: { cause?: unknown }) {
    super('keras', message, options);
    this.pythonType = pythonType;
  }
}

/** A shape as Keras 3 prints it (a Python tuple, `None` for an unknown size): `(4, 3)`, `(3,)`. */
export function pyShape(shape: readonly (number | null | undefined)[]): string {
  const dims = shape.map((d) => (d === null || d === undefined ? 'None' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}
