import { NormbridgeError, SingleValuePerChannelError } from '@normbridge/core';

/** The Python exception class PyTorch raises for the same mistake. */
export type PythonExceptionType = 'ValueError' | 'RuntimeError' | 'IndexError' | 'TypeError';

/**
 * Base of the adapter's errors. `pythonType` names the exception PyTorch raises in the same
 * situation; the message carries PyTorch's wording.
 */
export class TorchError extends NormbridgeError {
  readonly pythonType: PythonExceptionType;
  constructor(pythonType: PythonExceptionType, code: string, message: string) {
    super(code, message);
    this.pythonType = pythonType;
  }
}

/** PyTorch raises `ValueError` (e.g. `expected 4D input (got 3D input)`). */
export class TorchValueError extends TorchError {
  constructor(message: string) {
    super('ValueError', 'torch-value-error', message);
  }
}

/** PyTorch raises `RuntimeError` (e.g. `running_mean should contain 3 elements not 4`). */
export class TorchRuntimeError extends TorchError {
  constructor(message: string, code = 'torch-runtime-error') {
    super('RuntimeError', code, message);
  }
}

/** PyTorch raises `IndexError` (`Dimension out of range ...`). */
export class TorchIndexError extends TorchError {
  constructor(message: string) {
    super('IndexError', 'torch-index-error', message);
  }
}

/** PyTorch raises `TypeError`. */
export class TorchTypeError extends TorchError {
  constructor(message: string) {
    super('TypeError', 'torch-type-error', message);
  }
}

/**
 * `ValueError: Expected more than 1 value per channel when training, got input size [1, 3]`.
 * Still an instance of core's {@link SingleValuePerChannelError}.
 */
export class TorchSingleValuePerChannelError extends SingleValuePerChannelError {
  readonly pythonType = 'ValueError' as const;
}

/**
 * `RuntimeError: Error(s) in loading state_dict for BatchNorm2d: ...`. Carries the pieces of
 * the report separately. When it is thrown the module has not been changed.
 */
export class StateDictLoadError extends TorchRuntimeError {
  readonly missingKeys: readonly string[];
  readonly unexpectedKeys: readonly string[];
  /** Every line of the report after the first, as PyTorch lists them. */
  readonly errorMsgs: readonly string[];
  constructor(className: string, errorMsgs: readonly string[], missingKeys: readonly string[], unexpectedKeys: readonly string[]) {
    super(`Error(s) in loading state_dict for ${className}:\n\t${errorMsgs.join('\n\t')}`, 'torch-state-dict');
    this.errorMsgs = errorMsgs;
    this.missingKeys = missingKeys;
    this.unexpectedKeys = unexpectedKeys;
  }
}
