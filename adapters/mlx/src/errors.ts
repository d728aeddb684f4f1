import { NormbridgeError } from '@normbridge/core';

/** The Python exception class MLX raises for the same condition. */
export type PythonErrorType = 'ValueError' | 'KeyError' | 'TypeError';

/**
 * An error MLX would raise as a Python exception: `pythonType` names the class
 * (`ValueError`, `KeyError`, …) and the message says what MLX's says.
 */
export class MlxError extends NormbridgeError {
  readonly pythonType: PythonErrorType;
  constructor(pythonType: PythonErrorType, message: string, options?: { cause?: unknown }) {
    super('mlx', message, options);
    this.pythonType = pythonType;
  }
}

/** A Python tuple as `repr` prints a shape: `(4,)`, `(5, 4)`, `()`. */
export function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** A shape as MLX's C++ core prints it in its own errors: `(5,4)`, `(4)`. */
export function mlxCoreShape(shape: readonly number[]): string {
  return `(${shape.join(',')})`;
}

/** `repr()` of a Python float: `1e-05`, `0.0`, `-0.5`. */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Object.is(v, -0)) return '-0.0';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    // Python pads the exponent to two digits and keeps the shortest round-trip mantissa.
    return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  const s = String(v);
  return Number.isInteger(v) ? `${s}.0` : s;
}
