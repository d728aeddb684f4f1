/**
 * Compares a port with what torch recorded (`<name>.expected.safetensors`): logits, every
 * stage's activations (so that a mismatch says where it starts), and the running statistics
 * after train-mode passes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { parseSafetensors, type SafetensorsBuffer } from '@normbridge/safetensors';
import { resnetForward, toNchw, toNhwc, type ResNetLayers } from './resnet.js';
import type { TorchPort } from './torch-port.js';

export interface Tolerances {
  /**
   * Every logits check is two-sided: |port − torch| ≤ `atol` against torch's float32 logits, and
   * |port − exact| ≤ `float64_atol` against the same model run by torch in float64
   * (`logits_float64`).
   */
  readonly logits: { readonly atol: number; readonly float64_atol: number };
  readonly running_stats: { readonly atol: number; readonly rtol: number };
}

export interface Expected {
  readonly file: SafetensorsBuffer;
  readonly tolerances: Tolerances;
  readonly trainSteps: number;
  tensor(key: string): tf.Tensor;
}

export async function loadExpected(path: string): Promise<Expected> {
  const file = parseSafetensors(new Uint8Array(await readFile(path)), { name: path });
  const meta = file.metadata ?? {};
  if (meta['tolerances'] === undefined || meta['train_steps'] === undefined) throw new Error(`${path}: no tolerances/train_steps metadata`);
  return {
    file,
    tolerances: JSON.parse(meta['tolerances']) as Tolerances,
    trainSteps: Number(meta['train_steps']),
    tensor: (key) => tf.tensor(file.float32Sync(key), [...file.info(key).shape], 'float32'),
  };
}

export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape}] vs expected [${b.shape}]`);
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

export interface EvalReport {
  /** max |port − torch| of the logits. */
  readonly logits: number;
  /** max |port − torch in float64| of the logits. */
  readonly logitsVsFloat64: number;
  /** max |port − torch| of each stage's output, in model order. */
  readonly stages: readonly (readonly [string, number])[];
}

/** Eval-mode logits and stage outputs against torch's. */
export async function evalReport(layers: ResNetLayers, expected: Expected): Promise<EvalReport> {
  const stages: tf.Tensor4D[] = [];
  const names: string[] = [];
  const logits = resnetForward(layers, toNhwc(expected.tensor('input') as tf.Tensor4D), (name, y) => {
    names.push(name);
    stages.push(toNchw(y));
  });
  const out: [string, number][] = [];
  for (let i = 0; i < names.length; i++) out.push([names[i]!, await maxAbsDiff(stages[i]!, expected.tensor(`act/${names[i]}`))]);
  return { logits: await maxAbsDiff(logits, expected.tensor('logits')), logitsVsFloat64: vsFloat64(await logits.data(), expected), stages: out };
}

/** max |port − torch in float64| over the logits, computed in float64. */
export function vsFloat64(portLogits: ArrayLike<number>, expected: Expected): number {
  const exact = expected.file.nativeSync('logits_float64');
  if (exact.length !== portLogits.length) throw new Error(`logits: ${portLogits.length} values vs ${exact.length} in logits_float64`);
  let worst = 0;
  for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(portLogits[i]! - Number(exact[i]!)));
  return worst;
}

/** One line per stage: where a port starts to differ. */
export function formatEvalReport(r: EvalReport): string {
  return [...r.stages.map(([s, d]) => `  ${s.padEnd(9)} ${d.toExponential(2)}`), `  ${'logits'.padEnd(9)} ${r.logits.toExponential(2)} (${r.logitsVsFloat64.toExponential(2)} from torch in float64)`].join('\n');
}

export interface StatsRow {
  readonly layer: string;
  readonly mean: number;
  readonly variance: number;
  /** Whether both are within atol + rtol·|torch|. */
  readonly ok: boolean;
  readonly count: readonly [number | null, number];
}

async function within(actual: tf.Tensor, expected: tf.Tensor, t: Tolerances['running_stats']): Promise<boolean> {
  const bad = tf.any(tf.greater(tf.abs(tf.sub(actual, expected)), tf.add(t.atol, tf.mul(t.rtol, tf.abs(expected)))));
  return (await bad.data())[0] === 0;
}

/** Runs the recorded train-mode passes through the port, then compares every BatchNorm's running statistics. */
export async function trainReport(port: TorchPort, expected: Expected): Promise<StatsRow[]> {
  port.train(true);
  for (let i = 0; i < expected.trainSteps; i++) resnetForward(port.layers, toNhwc(expected.tensor(`train_input/${i}`) as tf.Tensor4D));
  port.train(false);
  const rows: StatsRow[] = [];
  for (const [path, bn] of port.batchNorms) {
    const mean = bn.runningMean as tf.Tensor;
    const variance = bn.runningVar as tf.Tensor;
    const eMean = expected.tensor(`after_train/${path}.running_mean`);
    const eVar = expected.tensor(`after_train/${path}.running_var`);
    const t = expected.tolerances.running_stats;
    const countKey = `after_train/${path}.num_batches_tracked`;
    const expectedCount = Number((expected.file.nativeSync(countKey) as BigInt64Array)[0]);
    rows.push({
      layer: path,
      mean: await maxAbsDiff(mean, eMean),
      variance: await maxAbsDiff(variance, eVar),
      ok: (await within(mean, eMean, t)) && (await within(variance, eVar, t)),
      count: [bn.numBatchesTracked, expectedCount],
    });
  }
  return rows;
}
