import { DTYPES, type Dtype } from '@normbridge/core';
import { ValueError } from './errors.js';

/** A dtype as Flax modules accept it (`jnp.float32`, `jnp.bfloat16`, `jnp.int32`, …), by name. */
export type FlaxDtype = Dtype | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint32' | 'bool';

/**
 * flax `canonicalize_dtype` for an explicit `dtype`: integer and boolean dtypes raise
 * `ValueError('Dtype must be inexact: int32')`. Returns the floating dtype.
 */
export function checkInexact(dtype: FlaxDtype): Dtype {
  if (!(DTYPES as readonly string[]).includes(dtype)) throw new ValueError(`Dtype must be inexact: ${dtype}`);
  return dtype as Dtype;
}
