/**
 * Driving a ported layer of each target framework through train and eval steps on a
 * synchronous engine, reading its running statistics, and naming the canonical spec it runs
 * (so that differences can be attributed to conventions). API shaping only.
 */
import type { BatchNormSpec, Engine, HostTensor } from '@normbridge/core';
import { linen } from '@normbridge/flax';
import type { PortTarget, TargetLayers } from '@normbridge/port';
import { torchSpec } from '@normbridge/torch';

export interface Driver {
  /** One call in train or eval mode; input and output channels where the target wants them. */
  step(x: unknown, mode: 'train' | 'eval'): unknown;
  runningStats(): { mean: HostTensor; variance: HostTensor };
  /** The canonical spec of a training call on inputs of this rank (channels where the target wants them). */
  spec(rank: number): BatchNormSpec;
}

export function driverFor<K extends PortTarget>(target: K, layer: TargetLayers<any>[K], engine: Engine<any>): Driver {
  const host = (t: unknown) => engine.toHost(t) as HostTensor;
  switch (target) {
    case 'torch': {
      const bn = layer as TargetLayers<any>['torch'];
      return {
        step(x, mode) {
          bn.train(mode === 'train');
          return bn.forward(x);
        },
        runningStats: () => ({ mean: host(bn.runningMean), variance: host(bn.runningVar) }),
        spec: () =>
          torchSpec({ eps: bn.eps, momentum: bn.momentum, scale: bn.affine, bias: bn.affine, updatesRunningStatistics: true, evalUsesBatchStatistics: false }),
      };
    }
    case 'flax-linen': {
      const bn = layer as TargetLayers<any>['flax-linen'];
      let variables = bn.variables;
      return {
        step(x, mode) {
          if (mode === 'eval') return bn.module.apply(variables, x, { useRunningAverage: true, engine });
          const [y, updates] = bn.module.apply(variables, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
          variables = { ...variables, ...updates };
          return y;
        },
        runningStats: () => {
          const s = variables['batch_stats'] as Record<string, unknown>;
          return { mean: host(s['mean']), variance: host(s['var']) };
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
          return bn.call(x);
        },
        runningStats: () => {
          const w = Object.fromEntries(bn.saveWeights());
          return { mean: w['running_mean']!, variance: w['running_var']! };
        },
        spec: () => bn.spec,
      };
    }
    case 'keras': {
      const bn = layer as TargetLayers<any>['keras'];
      return {
        step: (x, mode) => bn.apply(x, { training: mode === 'train' }),
        runningStats: () => {
          const names = bn.weights.map((w) => w.name);
          const values = bn.getWeights();
          return { mean: values[names.indexOf('moving_mean')]!, variance: values[names.indexOf('moving_variance')]! };
        },
        spec: () => bn.spec,
      };
    }
  }
  throw new Error(`no driver for ${String(target)}`);
}
