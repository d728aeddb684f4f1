/** Keras: one `train_on_batch` / `fit` batch of `Sequential([Input, BatchNormalization])`. */
export { trainOnBatch, type TrainOnBatchOptions } from './keras.js';
/** The Flax batch-norm guide's training flow: TrainState, trainStep/evalStep, optimizers, losses. */
export * as flax from './flax/index.js';
