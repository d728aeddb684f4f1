/**
 * Float64 inference of the fixture models (the tiny conv→bn→relu→pool→dense model and
 * torchvision's ResNet-18) in NHWC, from a checkpoint of any framework. BatchNorm goes through
 * @normbridge/core's float64 reference with the eps recorded in the checkpoint. Layouts are
 * changed here with core's `transpose`, independently of the converter's own permutation code.
 */
import { defineSpec, referenceEval, transpose, type HostState, type HostTensor } from '@normbridge/core';
import type { TensorReader } from '../io/reader.js';
import { readConfigMetadata } from '../port/config.js';
import type { Framework } from '../port/frameworks/index.js';
import { NAMINGS } from '../port/frameworks/index.js';

export interface NhwcWeights {
  /** Conv kernel as HWIO, bias [O]. */
  conv(path: readonly string[]): Promise<{ kernel: HostTensor; bias?: HostTensor | undefined }>;
  /** Dense kernel as [in, out], bias [out]. */
  dense(path: readonly string[]): Promise<{ kernel: HostTensor; bias?: HostTensor | undefined }>;
  bn(path: readonly string[]): Promise<{ state: HostState; epsilon: number }>;
}

const f64 = (shape: readonly number[], data: ArrayLike<number>): HostTensor => ({
  shape: [...shape],
  data: Float64Array.from(data),
  dtype: 'float64',
});

/** Reads a checkpoint's tensors the way each framework lays them out. */
export function nhwcWeights(reader: TensorReader, framework: Framework, separator?: string): NhwcWeights {
  const naming = NAMINGS[framework];
  const sep = separator ?? naming.detectSeparator(reader.tensors.map((t) => t.name));
  const key = (path: readonly string[], leaf: string, collection?: string) => naming.join({ path, leaf, collection }, sep);
  const load = async (k: string) => {
    const info = reader.info(k);
    return f64(info.shape, await reader.float32(k));
  };
  const maybe = async (k: string) => (reader.has(k) ? load(k) : undefined);
  const configs = readConfigMetadata(reader.metadata, naming.momentumConvention).layers;
  const param = (role: 'kernel' | 'kernelBias' | 'scale' | 'bias' | 'mean' | 'variance') => naming.collectionOf?.(role);
  return {
    async conv(path) {
      const w = await load(key(path, naming.leaves.kernel, param('kernel')));
      const kernel =
        naming.convLayout === 'OI*' ? transpose(w, [2, 3, 1, 0]) : naming.convLayout === 'O*I' ? transpose(w, [1, 2, 3, 0]) : w;
      return { kernel, bias: await maybe(key(path, naming.leaves.kernelBias, param('kernelBias'))) };
    },
    async dense(path) {
      const w = await load(key(path, naming.leaves.kernel, param('kernel')));
      return {
        kernel: naming.linearLayout === 'OI' ? transpose(w, [1, 0]) : w,
        bias: await maybe(key(path, naming.leaves.kernelBias, param('kernelBias'))),
      };
    },
    async bn(path) {
      const epsilon = configs.get(path.join(sep))?.epsilon;
      if (epsilon === undefined) throw new Error(`no eps recorded for ${path.join(sep)}`);
      return {
        epsilon,
        state: {
          scale: await load(key(path, naming.leaves.scale, param('scale'))),
          bias: await load(key(path, naming.leaves.bias, param('bias'))),
          runningMean: await load(key(path, naming.leaves.mean, param('mean'))),
          runningVar: await load(key(path, naming.leaves.variance, param('variance'))),
          numBatchesTracked: 0,
        },
      };
    },
  };
}

export function nchwToNhwc(x: HostTensor): HostTensor {
  return transpose(x, [0, 2, 3, 1]);
}

function conv2d(x: HostTensor, kernel: HostTensor, bias: HostTensor | undefined, stride: number, pad: number): HostTensor {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [kh, kw, kci, co] = kernel.shape as [number, number, number, number];
  if (kci !== ci) throw new Error(`conv: input has ${ci} channels, kernel expects ${kci}`);
  const ho = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - kw) / stride) + 1;
  const out = new Float64Array(n * ho * wo * co);
  const xd = x.data;
  const kd = kernel.data;
  const acc = new Float64Array(co);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        acc.fill(0);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * stride - pad + kx;
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * ci;
            const kBase = (ky * kw + kx) * ci * co;
            for (let c = 0; c < ci; c++) {
              const v = xd[xBase + c]!;
              const kRow = kBase + c * co;
              for (let o = 0; o < co; o++) acc[o]! += v * kd[kRow + o]!;
            }
          }
        }
        const oBase = ((b * ho + oy) * wo + ox) * co;
        for (let o = 0; o < co; o++) out[oBase + o] = acc[o]! + (bias ? bias.data[o]! : 0);
      }
    }
  }
  return { shape: [n, ho, wo, co], data: out, dtype: 'float64' };
}

function maxPool3x3s2p1(x: HostTensor): HostTensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const ho = Math.floor((h + 2 - 3) / 2) + 1;
  const wo = Math.floor((w + 2 - 3) / 2) + 1;
  const out = new Float64Array(n * ho * wo * c).fill(-Infinity);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const iy = oy * 2 - 1 + ky;
            const ix = ox * 2 - 1 + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let ch = 0; ch < c; ch++) {
              const o = ((b * ho + oy) * wo + ox) * c + ch;
              out[o] = Math.max(out[o]!, x.data[((b * h + iy) * w + ix) * c + ch]!);
            }
          }
  return { shape: [n, ho, wo, c], data: out, dtype: 'float64' };
}

const relu = (x: HostTensor): HostTensor => ({ ...x, data: x.data.map((v) => (v > 0 ? v : 0)) });
const add = (a: HostTensor, b: HostTensor): HostTensor => ({ ...a, data: a.data.map((v, i) => v + b.data[i]!) });

function globalAvgPool(x: HostTensor): HostTensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = new Float64Array(n * c);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[b * c + ch]! += x.data[(b * h * w + p) * c + ch]! / (h * w);
  return { shape: [n, c], data: out, dtype: 'float64' };
}

function dense(x: HostTensor, kernel: HostTensor, bias: HostTensor | undefined): HostTensor {
  const [n, i] = x.shape as [number, number];
  const o = kernel.shape[1]!;
  const out = new Float64Array(n * o);
  for (let b = 0; b < n; b++)
    for (let k = 0; k < o; k++) {
      let s = bias ? bias.data[k]! : 0;
      for (let j = 0; j < i; j++) s += x.data[b * i + j]! * kernel.data[j * o + k]!;
      out[b * o + k] = s;
    }
  return { shape: [n, o], data: out, dtype: 'float64' };
}

async function batchNorm(weights: NhwcWeights, path: readonly string[], x: HostTensor): Promise<HostTensor> {
  const { state, epsilon } = await weights.bn(path);
  return referenceEval(defineSpec({ featureAxes: [-1], epsilon }), state, x);
}

/** conv(3x3, pad 1) → bn → relu → mean over H, W → dense. */
export async function tinyForward(weights: NhwcWeights, x: HostTensor): Promise<HostTensor> {
  const c = await weights.conv(['conv']);
  let y = conv2d(x, c.kernel, c.bias, 1, 1);
  y = relu(await batchNorm(weights, ['bn'], y));
  const d = await weights.dense(['fc']);
  return dense(globalAvgPool(y), d.kernel, d.bias);
}

async function convBn(weights: NhwcWeights, x: HostTensor, conv: string[], bn: string[], stride: number, pad: number) {
  const c = await weights.conv(conv);
  return batchNorm(weights, bn, conv2d(x, c.kernel, c.bias, stride, pad));
}

/** torchvision ResNet-18 in eval mode. */
export async function resnet18Forward(weights: NhwcWeights, x: HostTensor, hasDownsample: (block: string[]) => boolean): Promise<HostTensor> {
  let y = relu(await convBn(weights, x, ['conv1'], ['bn1'], 2, 3));
  y = maxPool3x3s2p1(y);
  for (let layer = 1; layer <= 4; layer++) {
    for (let block = 0; block < 2; block++) {
      const p = [`layer${layer}`, String(block)];
      const stride = layer > 1 && block === 0 ? 2 : 1;
      let out = relu(await convBn(weights, y, [...p, 'conv1'], [...p, 'bn1'], stride, 1));
      out = await convBn(weights, out, [...p, 'conv2'], [...p, 'bn2'], 1, 1);
      const shortcut = hasDownsample(p) ? await convBn(weights, y, [...p, 'downsample', '0'], [...p, 'downsample', '1'], stride, 0) : y;
      y = relu(add(out, shortcut));
    }
  }
  const fc = await weights.dense(['fc']);
  return dense(globalAvgPool(y), fc.kernel, fc.bias);
}
