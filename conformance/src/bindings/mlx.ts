import { BatchNorm } from '@normbridge/mlx';
import type { Engine } from '@normbridge/core';
import { mlx } from '@normbridge/frameworks';
import { errorOutcome, floatTensor, givenLayer, NotApplicable, stateValues, toHost, type FrameworkBinding } from './types.js';

/** The adapter's version profile for the MLX that wrote the fixture. */
function mlxVersion(version: string) {
  const profile = mlx.versionOf(version);
  if (profile === undefined) throw new NotApplicable(`mlx ${version} has no version profile in @normbridge/frameworks (profiles: ${mlx.versions.join(', ')})`);
  return profile;
}

/** MLX fixtures drive `@normbridge/mlx` with the version profile the fixture names. */
export const mlxBinding: FrameworkBinding = {
  framework: 'mlx',
  profile: (m) => `mlx ${m.framework.version}`,
  async open(fixture, engine: Engine<any>, given?: unknown) {
    const { layer, initialState, framework } = fixture.manifest;
    if (layer.class !== 'BatchNorm') throw new NotApplicable(`no adapter for mlx.nn.${layer.class}`);
    const a = layer.args as Record<string, unknown>;
    const bn: BatchNorm<any> = givenLayer<BatchNorm<any>>(given, BatchNorm, 'an mlx.nn.BatchNorm') ?? new BatchNorm<any>(a.num_features as number, {
      eps: a.eps as number,
      momentum: a.momentum as number,
      affine: a.affine as boolean,
      trackRunningStats: a.track_running_stats as boolean,
      version: mlxVersion(framework.version),
      engine,
    });
    bn.loadWeights(stateValues(fixture, initialState) as never, true);
    return {
      async step(step) {
        if (step.mode === 'train') bn.train();
        else bn.eval();
        if (step.stateBefore) bn.loadWeights(stateValues(fixture, step.stateBefore) as never, true);
        try {
          const output = await toHost(engine, await bn.callAsync(engine.fromHost(floatTensor(fixture, step.input))));
          const state = Object.fromEntries(await bn.saveWeightsAsync());
          return { kind: 'ok', output, state };
        } catch (err) {
          return errorOutcome(err);
        }
      },
      dispose: () => {
        if (given === undefined) bn.dispose();
      },
    };
  },
};
