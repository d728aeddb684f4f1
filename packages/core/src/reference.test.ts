import { describe, expect, it } from 'vitest';
import { fromBatchWeightMomentum, fromDecayMomentum } from './conventions.js';
import { defineSpec, type BatchNormSpecInput } from './spec.js';
import { initialState, referenceEval, referenceTrain, referenceVjp } from './reference.js';
import { hostTensor, type HostTensor } from './tensor.js';
import type { HostState } from './state.js';

// docs/semantics.md#worked-example: N=4, C=3.
const X = hostTensor([4, 3], [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2], 'float64');

function oneStep(input: BatchNormSpecInput) {
  const spec = defineSpec(input);
  const train = referenceTrain(spec, initialState(spec, [3], 'float64'), X);
  const evalY = referenceEval(spec, train.state, X);
  return { train, evalY };
}

const row = (t: HostTensor, r = 0) => Array.from(t.data.slice(r * 3, r * 3 + 3));

describe('one-step golden table (docs/semantics.md#worked-example)', () => {
  const close = (a: number[], b: number[], tol = 1e-7) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, -Math.log10(tol)));

  it('batch statistics', () => {
    const { train } = oneStep({});
    close(Array.from(train.batchMean.data), [1.75, 2.25, 4.5]);
    close(Array.from(train.batchVar.data), [2.1875, 6.1875, 5.25]);
  });

  it('PyTorch defaults (momentum 0.1, unbiased running var)', () => {
    const { train, evalY } = oneStep({
      featureAxes: [1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased',
    });
    close(row(train.y), [-0.50709139, -0.1005037, -0.65465305]);
    close(Array.from(train.state.runningMean!.data), [0.175, 0.225, 0.45]);
    close(Array.from(train.state.runningVar!.data), [1.19166667, 1.725, 1.6]);
    close(row(evalY), [0.75574404, 1.35145799, 2.01594571]);
  });

  it('PyTorch momentum=None: the first batch replaces the initial statistics', () => {
    const { train } = oneStep({ featureAxes: [1], runningAverage: fromBatchWeightMomentum(null), runningVarianceEstimator: 'unbiased' });
    close(Array.from(train.state.runningMean!.data), [1.75, 2.25, 4.5]);
    close(Array.from(train.state.runningVar!.data), [2.9166667, 8.25, 7]);
    expect(train.state.numBatchesTracked).toBe(1);
  });

  it('MLX ≤ 0.32.0 and ONNX (biased running var)', () => {
    const { train, evalY } = oneStep({ runningAverage: fromBatchWeightMomentum(0.1) });
    close(Array.from(train.state.runningVar!.data), [1.11875, 1.51875, 1.425]);
    close(row(evalY), [0.77998362, 1.44030272, 2.13614744]);
    const onnx = oneStep({ featureAxes: [1], runningAverage: fromDecayMomentum(0.9) });
    close(Array.from(onnx.train.state.runningVar!.data), [1.11875, 1.51875, 1.425]);
  });

  it('Flax (0.99, 1e-5, one-pass clamped variance)', () => {
    const { train, evalY } = oneStep({ runningAverage: fromDecayMomentum(0.99), varianceAlgorithm: 'one-pass-clamped' });
    close(Array.from(train.state.runningMean!.data), [0.0175, 0.0225, 0.045]);
    close(Array.from(train.state.runningVar!.data), [1.011875, 1.051875, 1.0425]);
    close(row(evalY), [0.97671303, 1.92811246, 2.89412557]);
  });

  it('Keras 2.1.4–2.3.1 (0.99, 1e-3, almost-unbiased running variance)', () => {
    const { train } = oneStep({ runningAverage: fromDecayMomentum(0.99), epsilon: 1e-3, runningVarianceEstimator: 'almost-unbiased' });
    close(Array.from(train.state.runningVar!.data), [1.01917639, 1.07252751, 1.06002334]);
  });

  it('Keras 3 / TF.js (0.99, 1e-3, decay-toward form)', () => {
    const { train, evalY } = oneStep({ runningAverage: fromDecayMomentum(0.99), epsilon: 1e-3, runningUpdateForm: 'decay-toward' });
    close(row(train.y), [-0.50697669, -0.10049566, -0.65459133]);
    close(row(evalY), [0.97623558, 1.92720576, 2.89275237]);
  });
});

describe('reference semantics', () => {
  it('cumulative average equals the plain mean of batch statistics over k steps', () => {
    const spec = defineSpec({ runningAverage: { kind: 'cumulative' } });
    let state: HostState = initialState(spec, [2], 'float64');
    const means: number[][] = [];
    for (let k = 0; k < 5; k++) {
      const x = hostTensor([3, 2], Array.from({ length: 6 }, (_, i) => Math.sin(k * 7 + i) * (k + 1)), 'float64');
      const out = referenceTrain(spec, state, x);
      means.push(Array.from(out.batchMean.data));
      state = out.state;
    }
    for (let c = 0; c < 2; c++) {
      const avg = means.reduce((s, m) => s + m[c]!, 0) / means.length;
      expect(state.runningMean!.data[c]).toBeCloseTo(avg, 12);
    }
    expect(state.numBatchesTracked).toBe(5);
  });

  it('multi-axis features give a multi-dimensional feature shape', () => {
    const spec = defineSpec({ featureAxes: [1, 2] });
    const x = hostTensor([2, 3, 4], Array.from({ length: 24 }, (_, i) => i * i * 0.01), 'float64');
    const out = referenceTrain(spec, initialState(spec, [3, 4], 'float64'), x);
    expect(out.batchMean.shape).toEqual([3, 4]);
    // Each (j, k) feature has exactly two samples: x[0,j,k] and x[1,j,k].
    expect(out.batchMean.data[5]).toBeCloseTo((x.data[5]! + x.data[17]!) / 2, 12);
  });

  it('a mask restricts the statistics to the positions it keeps', () => {
    const spec = defineSpec({ masked: true });
    const x = hostTensor([4, 1], [1, 2, 100, 3], 'float64');
    const mask = hostTensor([4, 1], [1, 1, 0, 1], 'float64');
    const out = referenceTrain(spec, initialState(spec, [1], 'float64'), x, { mask });
    expect(out.batchMean.data[0]).toBeCloseTo(2, 12);
    expect(out.batchVar.data[0]).toBeCloseTo(2 / 3, 12);
  });

  it('count-weighted replicas equal one big batch; unweighted-mean differs when counts differ', () => {
    const data = [1, 5, 2, 8, 3, 0, 4, 4];
    const big = referenceTrain(defineSpec({}), initialState(defineSpec({}), [1], 'float64'), hostTensor([8, 1], data, 'float64'));
    const replicated = referenceTrain(defineSpec({}), initialState(defineSpec({}), [1], 'float64'), hostTensor([2, 4, 1], data, 'float64'), { replicas: {} });
    expect(replicated.batchMean.shape).toEqual([2, 1]);
    expect(replicated.batchMean.data[1]).toBeCloseTo(big.batchMean.data[0]!, 12);
    expect(Array.from(replicated.y.data)).toEqual(Array.from(big.y.data).map((v) => expect.closeTo(v, 12)));
    const groups = referenceTrain(defineSpec({ replicaCombination: 'unweighted-mean' }), initialState(defineSpec({}), [1], 'float64'), hostTensor([2, 4, 1], data, 'float64'), { replicas: { groups: [[0], [1]] } });
    expect(groups.batchMean.data[0]).toBeCloseTo(4, 12);
    expect(groups.batchMean.data[1]).toBeCloseTo(2.75, 12);
  });
});

describe('reference VJP matches finite differences', () => {
  const cases: [string, BatchNormSpecInput, 'train' | 'eval'][] = [
    ['train, axis -1', {}, 'train'],
    ['train, axis 1 of rank 3, one-pass', { featureAxes: [1], varianceAlgorithm: 'one-pass-unclamped' }, 'train'],
    ['eval with running stats', {}, 'eval'],
    ['eval with batch stats', { evalStatistics: 'batch' }, 'eval'],
    ['train with a mask', { masked: true }, 'train'],
  ];
  for (const [name, input, mode] of cases) {
    it(name, () => {
      const spec = defineSpec(input);
      const shape = spec.featureAxes[0] === 1 ? [3, 2, 2] : [5, 2];
      const n = shape.reduce((a, b) => a * b, 1);
      const feat = spec.featureAxes[0] === 1 ? [2] : [2];
      const x = hostTensor(shape, Array.from({ length: n }, (_, i) => Math.cos(i * 1.3) * 2 + i * 0.1), 'float64');
      const dy = hostTensor(shape, Array.from({ length: n }, (_, i) => Math.sin(i * 0.7)), 'float64');
      const mask = spec.masked ? hostTensor(shape, Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : 1)), 'float64') : undefined;
      const state: HostState = {
        scale: hostTensor(feat, [1.5, -0.5], 'float64'),
        bias: hostTensor(feat, [0.2, 0.1], 'float64'),
        runningMean: hostTensor(feat, [0.3, -0.2], 'float64'),
        runningVar: hostTensor(feat, [1.7, 0.6], 'float64'),
        numBatchesTracked: 0,
      };
      const loss = (xs: HostTensor, st: HostState) => {
        const y = mode === 'train' ? referenceTrain(spec, st, xs, { mask }).y : referenceEval(spec, st, xs, { mask });
        let total = 0;
        for (let i = 0; i < y.data.length; i++) total += y.data[i]! * dy.data[i]!;
        return total;
      };
      const g = referenceVjp(spec, state, x, dy, mode, { mask });
      const h = 1e-6;
      for (let i = 0; i < n; i++) {
        const plus = Float64Array.from(x.data); plus[i]! += h;
        const minus = Float64Array.from(x.data); minus[i]! -= h;
        const fd = (loss({ ...x, data: plus }, state) - loss({ ...x, data: minus }, state)) / (2 * h);
        expect(g.dx.data[i]).toBeCloseTo(fd, 5);
      }
      for (const key of ['scale', 'bias'] as const) {
        const grad = key === 'scale' ? g.dScale! : g.dBias!;
        for (let c = 0; c < 2; c++) {
          const bump = (d: number): HostState => {
            const t = Float64Array.from(state[key]!.data); t[c]! += d;
            return { ...state, [key]: { ...state[key]!, data: t } };
          };
          const fd = (loss(x, bump(h)) - loss(x, bump(-h))) / (2 * h);
          expect(grad.data[c]).toBeCloseTo(fd, 5);
        }
      }
    });
  }
});
