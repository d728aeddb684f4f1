import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

let ready: Promise<void> | undefined;

/**
 * A TF.js backend for the model code around BatchNorm (Dense, relu, losses) and TF.js's
 * gradient registry (for tf.grad through them). `@normbridge/tfjs`'s `registerTfjsGradients`
 * and its cpu backend when available; otherwise `@tensorflow/tfjs-backend-cpu` resolved from
 * that package's dependencies and tfjs-core's `register_all_gradients`.
 */
export function ensureTf(): Promise<void> {
  ready ??= (async () => {
    let mod: Record<string, unknown> = {};
    try {
      const specifier = '@normbridge/tfjs';
      mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
    } catch {
      mod = {};
    }
    if (typeof mod['registerTfjsGradients'] === 'function') {
      await (mod['registerTfjsGradients'] as () => Promise<void>)();
    }
    if (!tf.findBackendFactory('cpu')) {
      const req = createRequire(new URL('../../../../packages/tfjs/package.json', import.meta.url));
      await import(/* @vite-ignore */ req.resolve('@tensorflow/tfjs-backend-cpu'));
    }
    if (!tf.getGradient('MatMul')) {
      const specifier = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
      await import(/* @vite-ignore */ specifier);
    }
    if (tf.getBackend() !== 'cpu' && tf.getBackend() !== 'wasm') await tf.setBackend('cpu');
  })();
  return ready;
}
