/** Keras: one `train_on_batch` / `fit` batch of `Sequential([Input, BatchNormalization])`. */
export { trainOnBatch, type TrainOnBatchOptions } from './keras.js';
