import { BatchNormalization, type KerasProfile } from '@normbridge/keras';
import { trainOnBatch } from '@normbridge/training';
import type { Engine, HostTensor } from '@normbridge/core';
import { keras } from '@normbridge/frameworks';
import type { FrameworkName } from '../fixture-schema.js';
import { errorOutcome, floatTensor, NotApplicable, tensor, toHost, type FrameworkBinding } from './types.js';

/** Constructor arguments handed to the adapter unchanged. */
const PASSED_THROUGH = ['axis', 'momentum', 'epsilon', 'center', 'scale', 'trainable'] as const;

/** Keras weight order (the profile's); absent ones (center/scale off) are skipped, as `get_weights()` does. */
const WEIGHT_ORDER = [...keras.params, ...keras.stats].map((v) => v.name);

function kerasBinding(framework: Extract<FrameworkName, 'keras' | 'tfjs-layers'>, profile: KerasProfile): FrameworkBinding {
  return {
    framework,
    profile: (m) => `${framework} ${m.framework.version}${m.framework.backend ? ` (${m.framework.backend})` : ''}`,
    async open(fixture, engine: Engine<any>, given?: unknown) {
      const { layer, initialState, steps } = fixture.manifest;
      if (layer.class !== 'BatchNormalization') throw new NotApplicable(`no adapter for ${layer.class}`);
      const a = layer.args as Record<string, unknown>;
      // These arguments are single words, spelled alike in Keras (snake_case) and TF.js (camelCase).
      const options = Object.fromEntries(
        PASSED_THROUGH.filter((k) => a[k] !== undefined).map((k) => [k, a[k]]),
      ) as Partial<Record<(typeof PASSED_THROUGH)[number], never>>;
      const bn: BatchNormalization<any> = (given as BatchNormalization<any> | undefined) ?? new BatchNormalization<any>({
        ...options,
        profile,
        engine,
      });
      const setWeights = (map: Readonly<Record<string, string>>) =>
        bn.setWeights(WEIGHT_ORDER.filter((k) => k in map).map((k) => tensor(fixture, map[k]!) as HostTensor));
      if (!bn.built) bn.build(floatTensor(fixture, steps[0]!.input).shape);
      setWeights(initialState);
      const present = WEIGHT_ORDER.filter((k) => k in initialState);
      return {
        async step(step) {
          if (step.stateBefore) setWeights(step.stateBefore);
          const call = step.call as { training?: boolean; method?: string; loss?: string; optimizer?: { class_name?: string; learning_rate?: number } };
          const training = call.training ?? step.mode === 'train';
          try {
            const x = engine.fromHost(floatTensor(fixture, step.input));
            if (step.loss !== undefined) {
              if (call.method !== 'train_on_batch' && call.method !== 'fit') throw new NotApplicable(`no replay for a loss step through ${String(call.method)}`);
              if (call.loss !== 'mean_squared_error' || call.optimizer?.class_name !== 'SGD') {
                throw new NotApplicable(`loss ${String(call.loss)} with optimizer ${String(call.optimizer?.class_name)} is not implemented (mean_squared_error + SGD are)`);
              }
              const loss = await trainOnBatch(bn, x, floatTensor(fixture, step.target!), {
                loss: 'mean_squared_error',
                optimizer: { className: 'SGD', learningRate: call.optimizer.learning_rate ?? 0.01 },
              });
              const weights = await bn.getWeightsAsync();
              const state = Object.fromEntries(present.map((k, i) => [k, weights[i]!]));
              return { kind: 'ok', loss: { shape: [], data: new Float64Array([loss]), dtype: 'float64' }, state };
            }
            const mask = step.mask !== undefined ? engine.fromHost(floatTensor(fixture, step.mask)) : undefined;
            let gradients: Record<string, HostTensor> | undefined;
            if (step.cotangent && engine.capabilities.gradients) {
              const g = await bn.vjpAsync(x, engine.fromHost(floatTensor(fixture, step.cotangent)), { training });
              gradients = {};
              for (const [k, t] of Object.entries(g)) gradients[k] = await toHost(engine, t);
            }
            const output = await toHost(engine, await bn.applyAsync(x, { training, ...(mask !== undefined ? { mask } : {}) }));
            const weights = await bn.getWeightsAsync();
            const state = Object.fromEntries(present.map((k, i) => [k, weights[i]!]));
            return { kind: 'ok', output, state, ...(gradients ? { gradients } : {}) };
          } catch (err) {
            if (err instanceof NotApplicable) throw err;
            return errorOutcome(err);
          }
        },
        dispose: () => {
          if (given === undefined) bn.dispose();
        },
      };
    },
  };
}

/** TF.js fixtures run through the Keras adapter's `tfjs-layers` profile (bit-exact update form). */
export const tfjsLayersBinding = kerasBinding('tfjs-layers', 'tfjs-layers');
export const keras3Binding = kerasBinding('keras', 'keras3');
