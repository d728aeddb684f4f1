/**
 * PyTorch's argument checks, in the order PyTorch runs them. Shape bookkeeping only: no
 * statistic is computed here.
 */
import { checkFeatureCountLimit, numel } from '@normbridge/core';
import {
  TorchIndexError,
  TorchRuntimeError,
  TorchSingleValuePerChannelError,
  TorchTypeError,
  TorchValueError,
} from './errors.js';

/** Ranks each module class accepts (`_check_input_dim`); `'2+'` is SyncBatchNorm's "at least 2D". */
export type RankRule = readonly number[] | '2+';

/** Raises PyTorch's `ValueError` for an input rank the class does not accept. */
export function checkInputDim(rule: RankRule, shape: readonly number[]): void {
  const d = shape.length;
  if (rule === '2+') {
    if (d < 2) throw new TorchValueError(`expected at least 2D input (got ${d}D input)`);
    return;
  }
  if (rule.includes(d)) return;
  const expected = rule.length === 1 ? `${rule[0]}D` : `${rule.slice(0, -1).map((r) => `${r}D`).join(', ')} or ${rule.at(-1)}D`;
  throw new TorchValueError(`expected ${expected} input (got ${d}D input)`);
}

/**
 * `F.batch_norm`'s `_verify_batch_size`, run whenever batch statistics are computed: the
 * product of every dimension but the channel one must exceed 1.
 */
export function verifyBatchSize(shape: readonly number[]): void {
  let values = shape[0] ?? 1;
  for (let i = 2; i < shape.length; i++) values *= shape[i]!;
  if (values === 1) throw new TorchSingleValuePerChannelError(shape);
}

/** `F.batch_norm` reads the channel count from dimension 1 (IndexError below rank 2). */
export function channelCount(shape: readonly number[]): number {
  if (shape.length < 2) {
    const d = Math.max(shape.length, 1);
    throw new TorchIndexError(`Dimension out of range (expected to be in range of [${-d}, ${d - 1}], but got 1)`);
  }
  return shape[1]!;
}

/**
 * ATen's `check_dims_match_num_input_features`, over the tensors passed to the kernel in
 * PyTorch's order (running_mean, running_var, weight, bias); `undefined` entries are skipped.
 */
export function checkFeatureCounts(
  channels: number,
  tensors: readonly (readonly [name: string, shape: readonly number[] | undefined])[],
): void {
  for (const [name, shape] of tensors) checkFeatureCount(channels, name, shape);
}

/** One tensor of {@link checkFeatureCounts}: `undefined` (not passed to the kernel) is skipped. */
export function checkFeatureCount(channels: number, name: string, shape: readonly number[] | undefined): void {
  if (shape === undefined) return;
  const k = numel(shape);
  if (k !== channels) throw new TorchRuntimeError(`${name} should contain ${channels} elements not ${k}`);
}

/** ATen raises when inference is asked for without running statistics. */
export function requireForEval(name: 'running_mean' | 'running_var', present: boolean): void {
  if (!present) throw new TorchRuntimeError(`${name} must be defined in evaluation mode`);
}

/** `num_features` is a tensor size: a non-negative integer. */
export function checkNumFeatures(numFeatures: unknown): number {
  if (typeof numFeatures !== 'number' || !Number.isInteger(numFeatures)) {
    throw new TorchTypeError(`num_features must be an int, got ${String(numFeatures)}`);
  }
  if (numFeatures < 0) {
    throw new TorchRuntimeError(`Trying to create tensor with negative dimension ${numFeatures}: [${numFeatures}]`);
  }
  // PyTorch would try to allocate; normbridge refuses first (a typed SpecError naming the field).
  checkFeatureCountLimit('num_features', numFeatures);
  return numFeatures;
}

/** `Module.train(mode)` accepts booleans only. */
export function checkTrainingMode(mode: unknown): boolean {
  if (typeof mode !== 'boolean') throw new TorchValueError('training mode is expected to be boolean');
  return mode;
}
