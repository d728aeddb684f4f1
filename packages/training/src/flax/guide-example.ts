import * as tf from '@tensorflow/tfjs-core';
import { getDefaultEngine, setDefaultEngine, type Engine } from '@normbridge/core';
import { prettyRepr, random, treeMapShapes } from '@normbridge/flax';
import { MLP, evalStep, trainStep, type Batch } from './guide.js';
import { sigmoidBinaryCrossEntropy } from './losses.js';
import { adam } from './optim.js';
import { TrainState } from './train-state.js';

/**
 * The Flax batch-norm guide end to end, as `docs/flax-guide.md` shows it (the page's
 * TypeScript blocks are excerpts of this file; a test checks they match). Runs on `engine` (set as
 * core's default engine for the duration) and trains on `batch`.
 */
export interface GuideExampleResult {
  /** `jax.tree_util.tree_map(jnp.shape, variables)` printed as in the guide. */
  readonly tree: string;
  /** Loss after each training step. */
  readonly losses: number[];
  /** `eval_step` metrics (running averages) after training. */
  readonly evaluation: { readonly loss: number; readonly accuracy: number };
  /** The final train state. */
  readonly state: TrainState;
}

export function runGuideExample(engine: Engine<any>, batch: Batch, steps = 30): GuideExampleResult {
  const previous = getDefaultEngine();
  setDefaultEngine(engine);
  try {
    // --- the batch_stats collection
    const mlp = new MLP({ momentum: 0.9 });
    const x = tf.ones([1, 3]);
    const variables = mlp.init(random.key(0), x, { train: false });
    const params = variables['params']!;
    const batchStats = variables['batch_stats']!;

    const tree = prettyRepr(treeMapShapes(variables));

    // --- modifying apply
    const [y, updates] = mlp.apply({ params, batch_stats: batchStats }, x, { train: true, mutable: ['batch_stats'] });
    const newBatchStats = updates['batch_stats'];
    void y;
    void newBatchStats;

    // --- training and evaluation
    let state = TrainState.create({
      applyFn: mlp.apply.bind(mlp),
      params,
      batchStats,
      tx: adam(0.05),
    });

    // One logit per example: a sigmoid loss, and the logit's sign as the prediction.
    const options = {
      loss: (logits: tf.Tensor, labels: tf.Tensor) => sigmoidBinaryCrossEntropy(tf.squeeze(logits, [-1]), labels),
      correct: (logits: tf.Tensor, labels: tf.Tensor) => tf.equal(tf.cast(tf.greater(tf.squeeze(logits, [-1]), 0), 'int32'), labels),
    };
    const losses: number[] = [];
    for (let step = 0; step < steps; step++) {
      const [next, metrics] = trainStep(state, batch, options);
      state = next;
      losses.push(metrics.loss.dataSync()[0]!);
    }
    const [, metrics] = evalStep(state, batch, options);
    // ---

    return {
      tree,
      losses,
      evaluation: { loss: metrics.loss.dataSync()[0]!, accuracy: metrics.accuracy.dataSync()[0]! },
      state: state as TrainState,
    };
  } finally {
    setDefaultEngine(previous);
  }
}
