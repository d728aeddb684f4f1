/**
 * `state_dict()` / `load_state_dict()` translation: PyTorch key names, shapes and report, over
 * core's canonical state. Values are copied and converted to float32 / int64 (what PyTorch's
 * `copy_` into float32 parameters and an int64 counter does); nothing else is computed.
 */
import { hostTensorProblem, int64Scalar, type CheckpointValue, type HostTensor, type StateTensorKey } from '@normbridge/core';
import { TORCH_COUNTER, TORCH_PARAMS, TORCH_STATS } from '@normbridge/frameworks';
import { StateDictLoadError } from './errors.js';

/** A PyTorch-style state dict: key → float32 tensor or int64 scalar. */
export type StateDict = Record<string, CheckpointValue>;

/** `load_state_dict`'s return value (PyTorch's `_IncompatibleKeys`). */
export interface IncompatibleKeys {
  readonly missingKeys: string[];
  readonly unexpectedKeys: string[];
}

export interface StateDictOptions {
  /**
   * Prepended to every key, as PyTorch does for a submodule (`'bn.'` gives `bn.running_mean`).
   * @default ''
   */
  readonly prefix?: string;
}

export interface LoadStateDictOptions {
  /**
   * PyTorch's `strict`: when true, missing or unexpected keys raise `RuntimeError`
   * (`StateDictLoadError`); when false they are only reported. Size mismatches raise either way.
   * @default true
   */
  readonly strict?: boolean;
  /**
   * Only keys starting with this prefix belong to the module (PyTorch loading a submodule
   * named `bn` reads `bn.weight`, …); keys with another prefix are ignored, not unexpected.
   * @default ''
   */
  readonly prefix?: string;
  /**
   * What a dict without `num_batches_tracked` does to the counter while `trackRunningStats` is
   * on. PyTorch fills the key in for checkpoints without version metadata (a plain dict, or
   * one saved before the counter existed), so it is never reported missing:
   * `'keep'` keeps the module's current counter (PyTorch ≥ 2.2, pytorch/pytorch#110850);
   * `'reset'` sets it to 0 (PyTorch ≤ 2.1, pytorch/pytorch#110361).
   * @default 'keep'
   */
  readonly missingNumBatchesTracked?: 'keep' | 'reset';
}

export type FloatStateKey = (typeof TORCH_PARAMS)[number]['name'] | (typeof TORCH_STATS)[number]['name'];
export type TorchStateKey = FloatStateKey | typeof TORCH_COUNTER;

/** The PyTorch names of the module's state, in registration order (from the torch profile). */
export const PARAMETER_KEYS: readonly FloatStateKey[] = TORCH_PARAMS.map((v) => v.name);
export const BUFFER_KEYS: readonly TorchStateKey[] = [...TORCH_STATS.map((v) => v.name), TORCH_COUNTER];

/** PyTorch key → core state key. */
export const CANONICAL_KEY = Object.fromEntries([...TORCH_PARAMS, ...TORCH_STATS].map((v) => [v.name, v.key])) as Readonly<Record<FloatStateKey, StateTensorKey>>;

/** A float tensor as PyTorch keeps it in a state dict: float32, a fresh copy. */
export function toFloat32(t: HostTensor): HostTensor {
  return toDtype(t, 'float32');
}

/** A copy in the module's dtype (PyTorch `load_state_dict` copies into the existing tensors' dtype). */
export function toDtype(t: HostTensor, dtype: TorchDtype): HostTensor {
  const data = dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data);
  return { shape: [...t.shape], data, dtype };
}

/** Floating dtypes a module's parameters and buffers may have (PyTorch `dtype=`). */
export type TorchDtype = 'float32' | 'float64';

function isCheckpointValue(v: unknown): v is CheckpointValue {
  if (v === null || typeof v !== 'object') return false;
  const o = v as { shape?: unknown; data?: unknown; dtype?: unknown };
  return (
    Array.isArray(o.shape) &&
    typeof o.dtype === 'string' &&
    (o.data instanceof Float32Array || o.data instanceof Float64Array || o.data instanceof BigInt64Array)
  );
}

/**
 * Why a tensor-like value cannot be copied although it has the right shape: its data does not
 * hold one value per element (a [3] tensor with 2 values would load NaN), or a counter does not
 * fit a JavaScript number exactly. Undefined when it can.
 */
function valueProblem(v: CheckpointValue): string | undefined {
  const problem = hostTensorProblem({ shape: v.shape, data: v.data instanceof BigInt64Array ? new Float64Array(v.data.length) : v.data });
  if (problem !== undefined) return `the tensor ${problem}`;
  if (v.data instanceof BigInt64Array) {
    for (const x of v.data) {
      if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)) return `the value ${x} is beyond 2^53 - 1 and cannot be held exactly`;
    }
  }
  return undefined;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'Object';
  return typeof v;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** What the module looks like, for planning a load. */
export interface LoadTarget {
  readonly className: string;
  readonly affine: boolean;
  readonly hasBuffers: boolean;
  /** The `track_running_stats` attribute now (may differ from `hasBuffers`). */
  readonly trackRunningStats: boolean;
  /** `undefined` for a lazy module whose parameters are not materialised yet. */
  readonly numFeatures: number | undefined;
  readonly numBatchesTracked: number | null;
  /** Dtype values are copied into. @default 'float32' */
  readonly dtype?: TorchDtype;
}

/** A validated load: float32 values to upload, the new counter, the report. */
export interface LoadPlan extends IncompatibleKeys {
  readonly numFeatures: number | undefined;
  readonly tensors: Partial<Record<FloatStateKey, HostTensor>>;
  readonly numBatchesTracked: number | undefined;
}

/**
 * Validates a dict against the module the way `Module.load_state_dict` does and returns what
 * to commit, or throws {@link StateDictLoadError} with PyTorch's report. Pure: nothing is
 * changed here, so a failed load leaves the module as it was.
 */
export function planLoad(target: LoadTarget, dict: Readonly<Record<string, unknown>>, options: LoadStateDictOptions = {}): LoadPlan {
  const { strict = true, prefix = '', missingNumBatchesTracked = 'keep' } = options;
  if (missingNumBatchesTracked !== 'keep' && missingNumBatchesTracked !== 'reset') {
    throw new TypeError(`missingNumBatchesTracked must be 'keep' or 'reset', got ${String(missingNumBatchesTracked)}`);
  }
  const sd: Record<string, unknown> = { ...dict };
  // _BatchNorm._load_from_state_dict: a dict without version metadata gets the counter filled in.
  const counterKey = `${prefix}${TORCH_COUNTER}`;
  if (target.trackRunningStats && !(counterKey in sd)) {
    sd[counterKey] = int64Scalar(missingNumBatchesTracked === 'keep' ? (target.numBatchesTracked ?? 0) : 0);
  }

  const local: TorchStateKey[] = [
    ...(target.affine ? PARAMETER_KEYS : []),
    ...(target.hasBuffers ? BUFFER_KEYS : []),
  ];
  // A lazy module materialises its tensors from the checkpoint's shapes.
  let numFeatures = target.numFeatures;
  if (numFeatures === undefined) {
    for (const name of local) {
      const v = sd[prefix + name];
      if (name !== TORCH_COUNTER && isCheckpointValue(v) && v.shape.length === 1) {
        numFeatures = v.shape[0]!;
        break;
      }
    }
  }

  const errorMsgs: string[] = [];
  const missingKeys: string[] = [];
  const tensors: Partial<Record<FloatStateKey, HostTensor>> = {};
  let counter: number | undefined;
  for (const name of local) {
    const key = prefix + name;
    if (!(key in sd)) {
      missingKeys.push(key);
      continue;
    }
    const value = sd[key];
    if (!isCheckpointValue(value)) {
      errorMsgs.push(
        `While copying the parameter named "${key}", expected torch.Tensor or Tensor-like object from checkpoint but received ${typeName(value)}`,
      );
      continue;
    }
    const problem = valueProblem(value);
    if (problem !== undefined) {
      errorMsgs.push(`While copying the parameter named "${key}", ${problem}.`);
      continue;
    }
    if (name === TORCH_COUNTER) {
      // A 1-element 1-D counter loads into the 0-D buffer (PyTorch's 0.3 → 0.4 compatibility).
      if (value.shape.length !== 0 && !sameShape(value.shape, [1])) {
        errorMsgs.push(`size mismatch for ${key}: copying a param with shape ${shapeText(value.shape)} from checkpoint, the shape in current model is [].`);
        continue;
      }
      // copy_ into an int64 buffer truncates toward zero.
      counter = Math.trunc(Number(value.data[0]!));
      continue;
    }
    if (numFeatures === undefined || !sameShape(value.shape, [numFeatures])) {
      errorMsgs.push(
        `size mismatch for ${key}: copying a param with shape ${shapeText(value.shape)} from checkpoint, the shape in current model is ${shapeText(numFeatures === undefined ? [0] : [numFeatures])}.`,
      );
      continue;
    }
    const dtype = target.dtype ?? 'float32';
    const source = value.data instanceof BigInt64Array ? Array.from(value.data, Number) : value.data;
    const data = dtype === 'float64' ? Float64Array.from(source) : Float32Array.from(source);
    tensors[name] = { shape: [numFeatures], data, dtype };
  }

  const unexpectedKeys: string[] = [];
  const localNames = new Set<string>(local);
  for (const key of Object.keys(sd)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length).split('.', 1)[0]!;
    if (!localNames.has(name)) unexpectedKeys.push(key);
  }

  if (strict) {
    if (unexpectedKeys.length > 0) {
      errorMsgs.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}. `);
    }
    if (missingKeys.length > 0) {
      errorMsgs.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}. `);
    }
  }
  if (errorMsgs.length > 0) throw new StateDictLoadError(target.className, errorMsgs, missingKeys, unexpectedKeys);
  return { missingKeys, unexpectedKeys, numFeatures, tensors, numBatchesTracked: counter };
}
