/** A synthetic model with every Conv/Gemm → BatchNormalization situation the fold rewrite meets. */
import { TensorProto_DataType } from 'onnx-buf';
import { GraphBuilder } from '../proto/builder.js';
import { randomTensor } from './data.js';

let seed = 1000;
const rand = (shape: number[], offset = 0, spread = 1) => randomTensor(shape, seed++, 'float32', offset, spread);

function batchNorm(b: GraphBuilder, x: string, c: number, name: string): string {
  const inits = [rand([c], 1, 0.5), rand([c], 0, 0.5), rand([c], 0, 0.5), rand([c], 1.5, 0.5)].map((t, i) => b.initializer(`${name}.${['scale', 'B', 'mean', 'var'][i]}`, t));
  return b.op('BatchNormalization', [x, ...inits], { epsilon: { float: 1e-3 }, momentum: { float: 0.9 } });
}

export const SYNTHETIC_INPUT_SHAPE = [2, 4, 6, 6];

/**
 * Foldable: bn1 (Conv with bias), bn2 (grouped Conv without bias), bn4 (Gemm, transB=1),
 * bn5 (Gemm, transB=0, alpha 2, beta 0.5). Not foldable: bn3 (its Conv output is read twice),
 * bn6 (after a Relu).
 */
export function syntheticModel(): Uint8Array {
  seed = 1000;
  const b = new GraphBuilder('float32');
  const x = b.input('input', TensorProto_DataType.FLOAT, SYNTHETIC_INPUT_SHAPE);
  const conv = (input: string, w: number[], bias: boolean, attrs: Record<string, number[] | number>) =>
    b.op('Conv', [input, b.initializer(`w${seed}`, rand(w, 0, 0.6)), ...(bias ? [b.initializer(`b${seed}`, rand([w[0]!]))] : [])], attrs);
  const r1 = b.op('Relu', [batchNorm(b, conv(x, [6, 4, 3, 3], true, { pads: [1, 1, 1, 1] }), 6, 'bn1')]);
  const r2 = batchNorm(b, conv(r1, [6, 3, 1, 1], false, { group: 2 }), 6, 'bn2');
  const z3 = conv(r2, [4, 6, 3, 3], true, { pads: [1, 1, 1, 1] });
  const a3 = b.op('Relu', [b.op('Add', [batchNorm(b, z3, 4, 'bn3'), z3])]);
  const f = b.op('Flatten', [a3], { axis: 1 });
  const g1 = b.op('Gemm', [f, b.initializer('wg1', rand([5, 144], 0, 0.1)), b.initializer('cg1', rand([5]))], { transB: 1 });
  const g2 = b.op('Gemm', [batchNorm(b, g1, 5, 'bn4'), b.initializer('wg2', rand([5, 3])), b.initializer('cg2', rand([3]))], {
    alpha: { float: 2 },
    beta: { float: 0.5 },
  });
  const out = batchNorm(b, b.op('Relu', [batchNorm(b, g2, 3, 'bn5')]), 3, 'bn6');
  b.output('output', out, TensorProto_DataType.FLOAT);
  return b.build().bytes;
}
