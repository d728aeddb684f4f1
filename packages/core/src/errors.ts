/**
 * Typed errors. Every error names the field, key, file or shape at fault, so a user porting a
 * model can see what to change without reading normbridge's source.
 */

/** Base class: `code` is stable and machine-readable; the message is for people. */
export class NormbridgeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A BatchNorm spec (or a framework option that resolves into one) is invalid. */
export class SpecError extends NormbridgeError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, reason: string) {
    super('spec', `Invalid BatchNorm spec field "${field}" = ${describeValue(value)}: ${reason}`);
    this.field = field;
    this.value = value;
  }
}

/** The input does not fit the spec (rank, feature size, mask shape, …). */
export class ShapeError extends NormbridgeError {
  readonly expected: string;
  readonly actual: readonly number[];
  constructor(what: string, expected: string, actual: readonly number[]) {
    super('shape', `${what}: expected ${expected}, got shape [${actual.join(', ')}]`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** Layer state is missing, mis-shaped or holds values that cannot be used. */
export class StateError extends NormbridgeError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super('state', `State "${key}" ${reason}`);
    this.key = key;
  }
}

/** Batch statistics cannot be computed from one value per channel (PyTorch, MLX ≥ 0.32.1). */
export class SingleValuePerChannelError extends NormbridgeError {
  readonly inputShape: readonly number[];
  constructor(inputShape: readonly number[]) {
    super(
      'single-value-per-channel',
      `Expected more than 1 value per channel when training, got input size [${inputShape.join(', ')}]`,
    );
    this.inputShape = inputShape;
  }
}

/** An engine was asked for something it cannot do (see its capabilities). */
export class UnsupportedError extends NormbridgeError {
  constructor(what: string, reason: string) {
    super('unsupported', `${what} is not supported: ${reason}`);
  }
}

/**
 * An engine was asked to compute in a dtype it does not have (float64 on a float32-only engine):
 * refused rather than silently computed in float32. Names the engine and the dtype.
 */
export class UnsupportedDtypeError extends NormbridgeError {
  readonly engine: string;
  readonly dtype: string;
  constructor(engine: string, dtype: string, supported: readonly string[], what?: string) {
    super(
      'unsupported',
      `${what ? `${what}: ` : ''}engine "${engine}" cannot compute ${dtype} (it computes ${supported.join(', ')} only); ` +
        `running it would silently round to ${supported[0] ?? 'another dtype'}. Use an engine with ${dtype} (e.g. the float64 reference or ONNX Runtime) or ${supported[0] ?? 'a supported dtype'} values.`,
    );
    this.engine = engine;
    this.dtype = dtype;
  }
}

/** The value at a validation issue's path (`['steps', 2, 'input']`) inside `root`; `undefined` where the path leaves it. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** A value as an error message quotes it: short, JSON where it can be. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(value);
  }
}
