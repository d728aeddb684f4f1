/** Running ONNX models directly in onnxruntime-node, and the committed torch fixtures. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ModelProtoSchema } from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { valueInfo } from '../proto/builder.js';
import { decode, encode } from '../proto/runtime.js';

export const FIXTURES = fileURLToPath(new URL('../../../../fixtures/onnx-models/', import.meta.url));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURES + name));
}

export interface TorchExpected {
  readonly input_shape: number[];
  readonly input: number[];
  readonly eval_output: number[];
  readonly train_output: number[];
  readonly bn_eval: BnState;
  readonly bn_in_train_export: BnState;
  readonly bn_after_train_step: BnState;
}
interface BnState {
  readonly weight: number[];
  readonly bias: number[];
  readonly running_mean: number[];
  readonly running_var: number[];
  readonly num_batches_tracked: number;
  readonly eps: number;
  readonly momentum: number;
}

export function torchExpected(): TorchExpected {
  return JSON.parse(readFileSync(FIXTURES + 'torch_cbr_expected.json', 'utf8')) as TorchExpected;
}

export async function runModel(model: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array | Float64Array>> {
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array | Float64Array]));
  } finally {
    await session.release();
  }
}

/** Makes intermediate values graph outputs (float32, shape left open), so that a test can read them. */
export function exposeOutputs(model: Uint8Array, names: readonly string[]): Uint8Array {
  const m = decode(ModelProtoSchema, model);
  for (const name of names) m.graph!.output.push(valueInfo(name, 1));
  return encode(ModelProtoSchema, m);
}

export function f32(shape: readonly number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), [...shape]);
}
