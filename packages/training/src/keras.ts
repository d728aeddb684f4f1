import type { HostTensor } from '@normbridge/core';
import { KerasError, type BatchNormalization } from '@normbridge/keras';

/**
 * Model code around the layer: one Keras training step (`model.train_on_batch(x, y)`, or one
 * batch of `model.fit`) of `Sequential([Input, BatchNormalization])` compiled with
 * `optimizer=SGD(learning_rate)` and `loss='mean_squared_error'`. The BatchNorm numerics stay in
 * the layer (its engine); only the loss and the optimizer step are here.
 */
export interface TrainOnBatchOptions {
  /** Keras' loss name; only mean squared error is implemented. @default 'mean_squared_error' */
  readonly loss?: 'mean_squared_error';
  /** `keras.optimizers.SGD(learning_rate)` without momentum. */
  readonly optimizer: { readonly className: 'SGD'; readonly learningRate: number };
}

/**
 * Runs one training step and resolves to the loss Keras reports. The forward pass runs in
 * training mode (updating the moving statistics, unless the layer is frozen); the gradients of
 * the loss for `gamma` and `beta` are taken at the weights before the step, then SGD moves them.
 */
export async function trainOnBatch<T>(layer: BatchNormalization<T>, x: T, target: HostTensor, options: TrainOnBatchOptions): Promise<number> {
  const { loss = 'mean_squared_error', optimizer } = options;
  if (loss !== 'mean_squared_error') throw new KerasError('ValueError', `Unknown loss function: '${String(loss)}' (normbridge implements 'mean_squared_error').`);
  if (optimizer.className !== 'SGD' || !(optimizer.learningRate >= 0)) {
    throw new KerasError('ValueError', `Unsupported optimizer ${JSON.stringify(optimizer)}: normbridge implements SGD with a learning_rate >= 0.`);
  }
  const engine = layer.engine;
  const y = await engine.toHost(await layer.applyAsync(x, { training: true }));
  if (y.data.length !== target.data.length) {
    throw new KerasError('ValueError', `Target shape [${target.shape.join(', ')}] does not match the output shape [${y.shape.join(', ')}].`);
  }
  // mean((y - t)^2) over every element: Keras' per-sample mean then sum_over_batch_size reduction.
  const n = y.data.length;
  const dy = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = y.data[i]! - target.data[i]!;
    sum += d * d;
    dy[i] = (2 * d) / n;
  }
  if (layer.trainableWeights.length > 0) {
    const grads = await layer.vjpAsync(x, engine.fromHost({ shape: [...y.shape], data: dy, dtype: 'float32' }), { training: true });
    const weights = await layer.getWeightsAsync();
    const names = layer.weights.map((w) => w.name);
    const updated: HostTensor[] = [];
    for (const [i, name] of names.entries()) {
      const w = weights[i]!;
      const g = name === 'gamma' ? grads.gamma : name === 'beta' ? grads.beta : undefined;
      if (g === undefined) {
        updated.push(w);
        continue;
      }
      const gh = await engine.toHost(g);
      const data = new Float32Array(w.data.length);
      for (let k = 0; k < data.length; k++) data[k] = w.data[k]! - optimizer.learningRate * gh.data[k]!;
      updated.push({ ...w, data });
      engine.dispose(g);
    }
    engine.dispose(grads.input);
    layer.setWeights(updated);
  }
  return sum / n;
}
