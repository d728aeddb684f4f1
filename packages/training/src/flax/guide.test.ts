import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { random, treeLeaves, type Tree } from '@normbridge/flax';
import * as training from './index.js';
import { engineCases, expectClose, values } from '../test-support/engines.js';

// The guide's model is TF.js around the BatchNorm: engines on tf tensors (the reference through tf included).
const cases = await engineCases();

const GUIDE_TREE = `FrozenDict({
  'batch_stats': {
    'BatchNorm_0': {
        'mean': (4,),
        'var': (4,),
    },
  },
  'params': {
    'BatchNorm_0': {
        'bias': (4,),
        'scale': (4,),
    },
    'Dense_0': {
        'bias': (4,),
        'kernel': (3, 4),
    },
    'Dense_1': {
        'bias': (1,),
        'kernel': (4, 1),
    },
  },
})`;

/** A deterministic synthetic binary task: label = [a + (b - 3) / 2 - c > 0]. */
function dataset(n: number, seed: number): training.Batch {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = next() * 4;
    const b = next() * 4 + 3;
    const c = next() * 4;
    xs.push(a, b, c);
    ys.push(a + 0.5 * (b - 3) - c > 0 ? 1 : 0);
  }
  return { image: tf.tensor2d(xs, [n, 3]), label: tf.tensor1d(ys, 'int32') };
}

const batch = dataset(64, 7);

describe.each(cases)('the Flax batch-norm guide on $name', ({ engine }) => {
  it('prints the guide variable tree, trains (loss goes down), evaluates with the running averages', () => {
    const run = training.runGuideExample(engine, batch, 30);
    expect(run.tree).toBe(GUIDE_TREE);
    expect(run.losses).toHaveLength(30);
    expect(run.losses[29]!).toBeLessThan(run.losses[0]! * 0.5);
    for (let i = 5; i < 30; i += 5) expect(run.losses[i]!).toBeLessThan(run.losses[i - 5]!);
    expect(run.evaluation.accuracy).toBeGreaterThan(0.8);

    // eval_step normalises with the stored running averages, not the batch's statistics.
    const s = run.state;
    const mean = values((s.batchStats['BatchNorm_0'] as Tree)['mean']);
    expect(mean.some((m) => Math.abs(m) > 1e-3)).toBe(true);
    const mlp = new training.MLP({ momentum: 0.9 });
    const evalLogits = mlp.apply({ params: s.params, batch_stats: s.batchStats }, batch.image, { train: false, engine });
    const [trainLogits] = mlp.apply({ params: s.params, batch_stats: s.batchStats }, batch.image, {
      train: true,
      mutable: ['batch_stats'],
      engine,
    });
    expect(values(evalLogits)).not.toEqual(values(trainLogits));
    const evalLoss = tf.mean(training.sigmoidBinaryCrossEntropy(tf.squeeze(evalLogits, [-1]), batch.label));
    expectClose([run.evaluation.loss], values(evalLoss), 1e-6);
  });
});

describe('gradients through BatchNorm', () => {
  it('agree across engines: the reference vjp (customGrad bridge) and the TF.js ops', () => {
    const mlp = new training.MLP();
    const image = tf.slice(batch.image, [0, 0], [16, 3]);
    const label = tf.slice(batch.label, [0], [16]);
    const variables = mlp.init(random.key(3), tf.ones([1, 3]), { train: false, engine: cases[0]!.engine });
    const grads = cases.map(({ engine }) => {
      const f = (params: Tree<tf.Tensor>) => {
        const [logits] = mlp.apply({ params, batch_stats: variables['batch_stats']! }, image, { train: true, mutable: ['batch_stats'], engine });
        return tf.mean(training.sigmoidBinaryCrossEntropy(tf.squeeze(logits, [-1]), label)) as tf.Scalar;
      };
      const [, g] = training.valueAndGrad(f)(variables['params'] as Tree<tf.Tensor>);
      return treeLeaves(g).map(([p, t]) => [p.join('/'), values(t)] as const);
    });
    const [first, ...rest] = grads;
    expect(first!.map(([p]) => p)).toEqual([
      'BatchNorm_0/bias',
      'BatchNorm_0/scale',
      'Dense_0/bias',
      'Dense_0/kernel',
      'Dense_1/bias',
      'Dense_1/kernel',
    ]);
    // Dense_0/bias is exactly cancelled by the batch mean: its gradient is ~0.
    expect(Math.max(...first![2]![1].map(Math.abs))).toBeLessThan(1e-6);
    expect(Math.max(...first![3]![1].map(Math.abs))).toBeGreaterThan(1e-3);
    for (const g of rest) {
      g.forEach(([, v], i) => expectClose(v, first![i]![1], 2e-5, 1e-4));
    }
  });
});

describe('docs/flax-guide.md', () => {
  it('every TypeScript block is an excerpt of the guide sources', () => {
    const md = readFileSync(new URL('../../docs/flax-guide.md', import.meta.url), 'utf8');
    const source = ['guide.ts', 'guide-example.ts']
      .map((f) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8'))
      .join('\n')
      .split('\n')
      .map((l) => l.trim());
    const blocks = [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.trimEnd().split('\n').map((l) => l.trim()));
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const block of blocks) {
      const at = source.findIndex((_, i) => block.every((l, j) => source[i + j] === l));
      expect(at, `not found in the sources:\n${block.join('\n')}`).toBeGreaterThanOrEqual(0);
    }
    expect(md).toContain(GUIDE_TREE);
  });
});
