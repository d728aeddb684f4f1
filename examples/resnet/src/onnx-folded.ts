/**
 * The ONNX route to inference: torch's own ONNX export of the eval-mode model (BatchNormalization
 * nodes kept), folded by `@normbridge/onnx`'s `foldBatchNormsInModel` (each BatchNormalization
 * absorbed into the Conv before it), run on ONNX Runtime (node, CPU).
 */
import { readFile } from 'node:fs/promises';
import { foldBatchNormsInModel, type FoldedPair } from '@normbridge/onnx';
import * as ort from 'onnxruntime-node';

export interface OnnxFoldedRun {
  readonly folded: readonly FoldedPair[];
  readonly logits: Float32Array;
  readonly dims: readonly number[];
}

export async function runFoldedOnnx(modelPath: string, input: Float32Array, shape: readonly number[]): Promise<OnnxFoldedRun> {
  const { model, folded } = foldBatchNormsInModel(new Uint8Array(await readFile(modelPath)));
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [...shape]) });
    const logits = out[session.outputNames[0]!]!;
    return { folded, logits: logits.data as Float32Array, dims: logits.dims };
  } finally {
    await session.release();
  }
}
