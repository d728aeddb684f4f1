import { NormbridgeError } from '@normbridge/core';

/**
 * Errors Flax (and JAX underneath it) raises, mirrored class by class. Flax's own error
 * classes (`flax.errors.*`) append a link to their documentation page to every message; these
 * do the same so that a message copied from a Python traceback matches.
 */

const FLAX_ERROR_PAGE = 'https://flax.readthedocs.io/en/latest/api_reference/flax.errors.html';

/** A Python tuple as `repr` prints a shape: `(4,)`, `(3, 4)`, `()`. */
export function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** `repr()` of a Python str: single quotes unless the text holds one and no double quote. */
export function pyStr(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s}"`;
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Base of the `flax.errors` classes: the message ends with Flax's documentation link. */
export class FlaxError extends NormbridgeError {
  /** The message without the documentation link. */
  readonly flaxMessage: string;
  constructor(message: string) {
    const name = new.target.name;
    super('flax', `${message} (${FLAX_ERROR_PAGE}#flax.errors.${name})`);
    this.flaxMessage = message;
  }
}

/**
 * A training `apply` wrote a running statistic while its collection was immutable
 * (`mutable=['batch_stats']` forgotten). Flax: `flax.errors.ModifyScopeVariableError`.
 */
export class ModifyScopeVariableError extends FlaxError {
  constructor(
    readonly collection: string,
    readonly variableName: string,
    readonly scopePath: string,
  ) {
    super(`Cannot update variable "${variableName}" in "${scopePath}" because collection "${collection}" is immutable.`);
  }
}

/**
 * A variable was read from a collection that was not passed to `apply` (and is immutable).
 * Flax: `flax.errors.ScopeCollectionNotFound`.
 */
export class ScopeCollectionNotFound extends FlaxError {
  constructor(
    readonly collection: string,
    readonly variableName: string,
    readonly scopePath: string,
  ) {
    super(`Tried to access "${variableName}" from collection "${collection}" in "${scopePath}" but the collection is empty.`);
  }
}

/** A parameter is missing from a non-empty, immutable `params` collection. */
export class ScopeParamNotFoundError extends FlaxError {
  constructor(
    readonly paramName: string,
    readonly scopePath: string,
  ) {
    super(`Could not find parameter named "${paramName}" in scope "${scopePath}".`);
  }
}

/** A variable is missing from a non-empty, immutable collection. */
export class ScopeVariableNotFoundError extends FlaxError {
  constructor(
    readonly variableName: string,
    readonly collection: string,
    readonly scopePath: string,
  ) {
    super(`No Variable named "${variableName}" for collection "${collection}" exists in "${scopePath}".`);
  }
}

/** An existing parameter's shape differs from what its initializer would create. */
export class ScopeParamShapeError extends FlaxError {
  constructor(
    readonly paramName: string,
    readonly scopePath: string,
    readonly valueShape: readonly number[],
    readonly initShape: readonly number[],
  ) {
    super(
      `For parameter "${paramName}" in "${scopePath}", the given initializer is expected to generate shape ` +
        `${pyShape(initShape)}, but the existing parameter it received has shape ${pyShape(valueShape)}.`,
    );
  }
}

/** Two submodules, parameters or variables of one module got the same name. */
export class NameInUseError extends FlaxError {
  constructor(keyType: 'param' | 'variable' | 'submodule', value: string, moduleName: string) {
    super(`Could not create ${keyType} "${value}" in Module ${moduleName}: Name in use.`);
  }
}

/** `apply` got `{'params': {'params': …}}` (the result of `init` wrapped once more). */
export class ApplyScopeInvalidVariablesStructureError extends FlaxError {
  constructor() {
    super(
      'Expect the `variables` (first argument) passed to apply() to be a dict with the structure {"params": ...}, ' +
        'but got a dict with an extra params layer, i.e.  {"params": {"params": ... } }. ' +
        'You should instead pass in your dict\'s ["params"].',
    );
  }
}

/** A parameter had to be created but no `params` PRNG key was given. */
export class InvalidRngError extends FlaxError {}

/**
 * Python's `ValueError`, raised with Flax's message text: `merge_param` (linen
 * `use_running_average` missing or given twice), NNX's `first_from` and `set_attributes`,
 * legacy `flax.nn` state errors, `Dtype must be inexact`.
 */
export class ValueError extends NormbridgeError {
  constructor(message: string) {
    super('flax-value', message);
  }
}

/**
 * JAX's `NameError: unbound axis name: …`: a BatchNorm with `axisName` ran outside a
 * {@link pmap} that binds that name.
 */
export class UnboundAxisNameError extends NormbridgeError {
  constructor(readonly axisName: string) {
    super('flax-unbound-axis', `unbound axis name: ${axisName}`);
  }
}

/**
 * JAX's `TypeError: add got incompatible shapes for broadcasting`: what linen raises when the
 * running-average update meets a batch statistic laid out in another axis order (feature axes
 * >= 8 reordered by `_canonicalize_axes`, see `axes.ts`).
 */
export class IncompatibleShapesError extends NormbridgeError {
  constructor(
    readonly op: string,
    readonly shapes: readonly (readonly number[])[],
  ) {
    super('flax-broadcast', `${op} got incompatible shapes for broadcasting: ${shapes.map(pyShape).join(', ')}.`);
  }
}
