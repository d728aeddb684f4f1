/**
 * Names and sources of graph inputs. The engine feeds state as graph inputs; an exported model
 * carries it as initializers. Input names follow ONNX BatchNormalization's own.
 */
import type { HostTensor, StateTensorKey } from '@normbridge/core';
import type { GraphBuilder } from '../proto/builder.js';

export const NAMES = {
  x: 'X',
  mask: 'mask',
  dy: 'dY',
  averageWeight: 'average_weight',
  meanSeed: 'bn_mean_seed',
  varSeed: 'bn_var_seed',
  y: 'Y',
  batchMean: 'batch_mean',
  batchVar: 'batch_var',
  runningMean: 'running_mean',
  runningVar: 'running_var',
  dx: 'dX',
  dScale: 'dscale',
  dBias: 'dB',
} as const;

/** Graph input (or initializer) name of each state tensor. */
export const STATE_NAMES: Record<StateTensorKey, string> = {
  scale: 'scale',
  bias: 'B',
  runningMean: 'input_mean',
  runningVar: 'input_var',
};

/** Fed at run time, with this ONNX element type. */
export interface FedValue {
  readonly kind: 'input';
  readonly elemType: number;
}
/** Baked into the model; `overridable` also lists it as a graph input, so a caller may feed it. */
export interface BakedValue {
  readonly kind: 'initializer';
  readonly tensor: HostTensor;
  readonly overridable: boolean;
}
export type ValueSource = FedValue | BakedValue;
export type StateSources = Partial<Record<StateTensorKey, ValueSource>>;

/**
 * Declares a state tensor and returns it in the compute dtype, flattened to [C]: state is
 * shaped like the features, which may span several axes.
 */
export function readState(b: GraphBuilder, key: StateTensorKey, src: ValueSource, featureShape: readonly number[]): string {
  const name = STATE_NAMES[key];
  let v: string;
  let elemType: number;
  if (src.kind === 'input') {
    v = b.input(name, src.elemType, featureShape);
    elemType = src.elemType;
  } else {
    v = b.initializer(name, src.tensor, { asInput: src.overridable });
    elemType = b.elemType;
  }
  if (elemType !== b.elemType) v = b.op('Cast', [v], { to: b.elemType });
  if (featureShape.length !== 1) v = b.op('Reshape', [v, b.ints([featureShape.reduce((a, c) => a * c, 1)])]);
  return v;
}
