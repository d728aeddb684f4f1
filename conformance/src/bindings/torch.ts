import { BatchNorm1d, BatchNorm2d, BatchNorm3d, type _BatchNorm, type TorchVersion } from '@normbridge/torch';
import type { Engine } from '@normbridge/core';
import { torch } from '@normbridge/frameworks';
import { errorOutcome, floatTensor, givenLayer, NotApplicable, stateValues, toHost, type FrameworkBinding } from './types.js';

const CLASSES = { BatchNorm1d, BatchNorm2d, BatchNorm3d } as const;

/** The adapter's version profile for the torch that wrote the fixture (`1.13.0a0` → `'1.13'`, `2.13.0+cpu` → `'2.13'`). */
function versionProfile(version: string): TorchVersion {
  const profile = torch.versionOf(version);
  if (profile === undefined) {
    throw new NotApplicable(`torch ${version} has no version profile in @normbridge/frameworks (profiles: ${torch.versions.join(', ')})`);
  }
  return profile;
}

/**
 * PyTorch fixtures drive `@normbridge/torch` modules exactly as the generator drove `torch.nn`,
 * with the version profile of the torch that wrote them.
 */
export const torchBinding: FrameworkBinding = {
  framework: 'torch',
  profile: (m) => `torch ${m.framework.version}`,
  normalizeMessage: (message) => message.replace(/torch\.Size\(\[([^\]]*)\]\)/g, '[$1]'),
  async open(fixture, engine: Engine<any>, given?: unknown) {
    const { layer, initialState } = fixture.manifest;
    const Class = CLASSES[layer.class as keyof typeof CLASSES];
    if (!Class) throw new NotApplicable(`no adapter for torch.nn.${layer.class}`);
    const a = layer.args as Record<string, unknown>;
    const module: _BatchNorm<any> = givenLayer<_BatchNorm<any>>(given, Class, `a torch.nn.${layer.class}`) ?? new Class(a.num_features as number, {
      eps: a.eps as number,
      momentum: a.momentum as number | null,
      affine: a.affine as boolean,
      trackRunningStats: a.track_running_stats as boolean,
      // The generator records `dtype` as Python prints it, e.g. "torch.float64".
      dtype: a.dtype === 'torch.float64' ? 'float64' : 'float32',
      version: versionProfile(fixture.manifest.framework.version),
      engine,
    });
    module.loadStateDict(stateValues(fixture, initialState), { strict: true });
    return {
      async step(step) {
        const call = step.call as { training?: boolean; set_attributes?: { track_running_stats?: boolean } };
        if (call.set_attributes?.track_running_stats !== undefined) module.trackRunningStats = call.set_attributes.track_running_stats;
        module.train(step.mode === 'train');
        if (step.stateBefore) module.loadStateDict(stateValues(fixture, step.stateBefore), { strict: true });
        const x = engine.fromHost(floatTensor(fixture, step.input));
        try {
          let gradients: Record<string, any> | undefined;
          if (step.cotangent && engine.capabilities.gradients) {
            const g = await module.vjpAsync(x, engine.fromHost(floatTensor(fixture, step.cotangent)));
            gradients = {};
            for (const [k, t] of Object.entries(g)) gradients[k] = await toHost(engine, t);
          }
          const output = await toHost(engine, await module.forwardAsync(x));
          const state = await module.stateDictAsync();
          return { kind: 'ok', output, state, ...(gradients ? { gradients } : {}) };
        } catch (err) {
          return errorOutcome(err);
        }
      },
      dispose: () => {
        if (given === undefined) module.dispose();
      },
    };
  },
};
