/**
 * Driving a ported layer of each target framework through train and eval steps, reading its
 * running statistics, and naming the canonical spec it runs (so that differences can be
 * attributed to conventions). API shaping only. Every call goes through the adapters' async
 * entry points, which on a synchronous engine give exactly what the synchronous calls give, so
 * one path serves TF.js, the float64 reference and ONNX Runtime.
 */
import type { BatchNormSpec, Engine, HostTensor } from '@normbridge/core';
import { linen } from '@normbridge/flax';
import type { PortTarget, TargetLayers } from '@normbridge/port';
import { torchSpec } from '@normbridge/torch';

export interface Driver {
  /** One call in train or eval mode; input and output channels where the target wants them. */
  step(x: unknown, mode: 'train' | 'eval'): Promise<unknown>;
  runningStats(): Promise<{ mean: HostTensor; variance: HostTensor }>;
  /** The canonical spec of a training call on inputs of this rank (channels where the target wants them). */
  spec(rank: number): BatchNormSpec;
  /** Frees the layer's engine tensors (and, for Flax, every variable the steps returned). */
  dispose(): void;
}

/** The engine tensors of linen variables: two levels, `{collection: {name: tensor}}`. */
function leaves(variables: unknown): unknown[] {
  return Object.values((variables ?? {}) as Record<string, Record<string, unknown>>).flatMap((c) => Object.values(c ?? {}));
}

export function driverFor<K extends PortTarget>(target: K, layer: TargetLayers<any>[K], engine: Engine<any>): Driver {
  const host = async (t: unknown) => (await engine.toHost(t)) as HostTensor;
  switch (target) {
    case 'torch': {
      const bn = layer as TargetLayers<any>['torch'];
      return {
        step(x, mode) {
          bn.train(mode === 'train');
          return bn.forwardAsync(x);
        },
        runningStats: async () => ({ mean: await host(bn.runningMean), variance: await host(bn.runningVar) }),
        spec: () =>
          torchSpec({ eps: bn.eps, momentum: bn.momentum, scale: bn.affine, bias: bn.affine, updatesRunningStatistics: true, evalUsesBatchStatistics: false }),
        dispose: () => bn.dispose(),
      };
    }
    case 'flax-linen': {
      const bn = layer as TargetLayers<any>['flax-linen'];
      let variables = bn.variables;
      // Linen is functional: every update is new tensors, all freed at the end.
      const owned = new Set(leaves(variables));
      return {
        async step(x, mode) {
          if (mode === 'eval') return bn.module.applyAsync(variables, x, { useRunningAverage: true, engine });
          const [y, updates] = await bn.module.applyAsync(variables, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
          variables = { ...variables, ...updates };
          for (const t of leaves(updates)) owned.add(t);
          return y;
        },
        dispose: () => engine.dispose(...owned),
        runningStats: async () => {
          const s = variables['batch_stats'] as Record<string, unknown>;
          return { mean: await host(s['mean']), variance: await host(s['var']) };
        },
        spec: (rank) => linen.linenSpec(bn.module, { featureAxes: [rank - 1], updating: true, masked: false }),
      };
    }
    case 'mlx': {
      const bn = layer as TargetLayers<any>['mlx'];
      return {
        step(x, mode) {
          if (mode === 'train') bn.train();
          else bn.eval();
          return bn.callAsync(x);
        },
        runningStats: async () => {
          const w = Object.fromEntries(await bn.saveWeightsAsync());
          return { mean: w['running_mean']!, variance: w['running_var']! };
        },
        spec: () => bn.spec,
        dispose: () => bn.dispose(),
      };
    }
    case 'keras': {
      const bn = layer as TargetLayers<any>['keras'];
      return {
        step: (x, mode) => bn.applyAsync(x, { training: mode === 'train' }),
        runningStats: async () => {
          const names = bn.weights.map((w) => w.name);
          const values = await bn.getWeightsAsync();
          return { mean: values[names.indexOf('moving_mean')]!, variance: values[names.indexOf('moving_variance')]! };
        },
        spec: () => bn.spec,
        dispose: () => bn.dispose(),
      };
    }
  }
  throw new Error(`no driver for ${String(target)}`);
}
