/**
 * Each profile against the committed fixtures of its framework, so that a profile cannot drift
 * from what the real framework recorded: variable names and their order, argument spelling,
 * versions, the defaults (replayed numerically through core's float64 reference), and the form
 * of the running update where float32 bits can tell.
 */
import { referenceTrain, type HostState, type HostTensor } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { fixtureCall, FRAMEWORK_IDS, keras, PROFILES, tfjsLayers, variableNames, type FrameworkId, type FrameworkProfile } from './index.js';
import { excess, fixturesOf, type Fixture, type Step } from './test-support/fixtures.js';

/** Producers whose values are the framework's own (fixtures/README.md). */
const EVIDENCE = new Set(['real-framework', 'published-vector']);

function hostState(profile: FrameworkProfile<never, never>, f: Fixture, map: Record<string, string>): HostState {
  const names = variableNames(profile);
  const all = [...profile.params.map((v, i) => [v.key, names.params[i]!] as const), ...profile.stats.map((v, i) => [v.key, names.stats[i]!] as const)];
  const state: Record<string, unknown> = { numBatchesTracked: profile.counter && map[profile.counter] ? f.tensor(map[profile.counter]!).data[0] : 0 };
  for (const [key, name] of all) if (map[name] !== undefined) state[key] = f.tensor(map[name]!);
  return state as unknown as HostState;
}

/** The first step, when it is a plain training call from the initial state that the reference can replay. */
function plainFirstTrainStep(f: Fixture): Step | undefined {
  const m = f.manifest;
  const step = m.steps[0]!;
  const plain = step.mode === 'train' && step.state && step.output && !step.stateBefore && !step.mask && !step.loss && !step.error;
  // A recorded framework bug, or float32 cancellation, is not what the profile describes.
  const faithful = m.frameworkBug === undefined && !m.tags?.includes('float32-rounding');
  // The test reader decodes float32/float64 only.
  const replayable = faithful && (m.dtype === 'float32' || m.dtype === 'float64') && m.layout !== 'N' && m.layout !== 'custom' && !step.call['pmap'] && !step.call['omit_collections'] && step.call['method'] !== 'init' && m.layer.args['trainable'] !== false;
  return plain && replayable ? step : undefined;
}

/** How far the profile's spec, with `args`, is from the fixture's first training step (≤ 0: within tolerance). */
function firstStepExcess(profile: FrameworkProfile<any, any, any>, f: Fixture, args: Record<string, unknown>): number {
  const m = f.manifest;
  const step = plainFirstTrainStep(f)!;
  const x = f.tensor(step.input);
  const call = fixtureCall(profile.id, { call: step.call, masked: false, rank: x.shape.length });
  const spec = profile.specFromArgs(args, call, profile.versionOf(m.framework.version));
  const out = referenceTrain(spec, hostState(profile, f, m.initialState), x);
  const after = hostState(profile, f, step.state!);
  const stateTol = m.tolerance.state ?? m.tolerance;
  return Math.max(
    excess(out.y.data, f.tensor(step.output!).data, m.tolerance.output ?? m.tolerance),
    excess(out.state.runningMean!.data, after.runningMean!.data, stateTol),
    excess(out.state.runningVar!.data, after.runningVar!.data, stateTol),
  );
}

describe.each(FRAMEWORK_IDS.map((id) => [id, PROFILES[id]] as const))('%s profile', (id: FrameworkId, profile) => {
  const fixtures = fixturesOf(id);
  const names = variableNames(profile);
  const known = new Set([...names.params, ...names.stats]);

  it('names every variable the fixtures record, in the framework order', () => {
    for (const f of fixtures) {
      const keys = Object.keys(f.manifest.initialState);
      expect(keys.filter((k) => !known.has(k)), f.dir).toEqual([]);
      // PyTorch, MLX, Keras and ONNX list variables in a fixed order; Flax trees are dicts.
      if (!id.startsWith('flax')) expect(keys, f.dir).toEqual([...names.params, ...names.stats].filter((k) => keys.includes(k)));
    }
    const full = fixtures.find((f) => Object.keys(f.manifest.initialState).length === known.size);
    expect(full, 'a fixture with every variable').toBeDefined();
  });

  it('spells constructor arguments as the framework does', () => {
    const spelling = profile.argumentCase === 'snake_case' ? /^[a-z][a-z0-9_]*$/ : /^[a-z][a-zA-Z0-9]*$/;
    for (const f of fixtures) for (const k of Object.keys(f.manifest.layer.args)) expect(k, f.dir).toMatch(spelling);
    const recorded = new Set(fixtures.flatMap((f) => Object.keys(f.manifest.layer.args)));
    expect(recorded.has(profile.argumentNames.momentum), 'some fixture sets the momentum by its name').toBe(true);
  });

  it('has a version for every real-framework fixture', () => {
    for (const f of fixtures.filter((x) => EVIDENCE.has(x.manifest.producer.kind))) {
      expect(profile.versionOf(f.manifest.framework.version), `${f.dir}: ${f.manifest.framework.version}`).toBeDefined();
    }
  });

  it('has the defaults the framework recorded', () => {
    const defaults = fixtures.filter((f) => /defaults/.test(f.manifest.case) && EVIDENCE.has(f.manifest.producer.kind));
    for (const f of defaults) {
      const args = f.manifest.layer.args;
      const { epsilon, momentum } = profile.argumentNames;
      // Generators that record every argument wrote the framework's own default values.
      if (args[epsilon] !== undefined) expect(args[epsilon], f.dir).toBe(profile.defaults.epsilon);
      if (args[momentum] !== undefined) expect(args[momentum], f.dir).toBe(profile.defaults.momentum);
    }
    // Where the arguments were left out, the framework used its defaults: replay them.
    const replayed = fixtures.filter((f) => EVIDENCE.has(f.manifest.producer.kind) && plainFirstTrainStep(f) && !(profile.argumentNames.epsilon in f.manifest.layer.args));
    for (const f of replayed) expect(firstStepExcess(profile, f, f.manifest.layer.args), f.dir).toBeLessThanOrEqual(0);
  });
});

describe('the defaults replay is sensitive to them', () => {
  const defaults = (id: FrameworkId) => fixturesOf(id).filter((f) => /defaults/.test(f.manifest.case) && plainFirstTrainStep(f) && Object.keys(f.manifest.layer.args).length === 0);

  it("another framework's default eps or momentum would not reproduce Keras 3", () => {
    const fs = defaults('keras');
    expect(fs.length).toBeGreaterThan(0);
    for (const f of fs) {
      expect(firstStepExcess(keras, f, { epsilon: 1e-5 }), `${f.dir} with eps 1e-5`).toBeGreaterThan(0);
      expect(firstStepExcess(keras, f, { momentum: 0.9 }), `${f.dir} with momentum 0.9`).toBeGreaterThan(0);
    }
  });
});

/**
 * `blend` (a·old + (1 − a)·batch) and `decay-toward` (old − (old − batch)·(1 − a)) agree in
 * exact arithmetic and differ in the last float32 bit. With the batch mean taken as the float32
 * rounding of its exact value (the backends' own reduction order is unknown), count the moving
 * means each form reproduces bit for bit.
 */
function exactUpdates(id: 'keras' | 'tfjs-layers'): { blend: number; decayToward: number } {
  const f32 = Math.fround;
  const counts = { blend: 0, decayToward: 0 };
  for (const f of fixturesOf(id)) {
    const m = f.manifest;
    if (m.layer.args['trainable'] === false) continue;
    const a = f32((m.layer.args['momentum'] as number | undefined) ?? 0.99);
    let prev = m.initialState;
    for (const step of m.steps) {
      if (step.state === undefined) continue;
      if (step.mode === 'train' && !step.loss && !step.mask && step.state['moving_mean'] !== undefined) {
        const x = f.tensor(step.input);
        const rank = x.shape.length;
        const axis = (((m.layer.args['axis'] as number | undefined) ?? -1) + rank) % rank;
        const old = f.tensor(prev['moving_mean']!).data;
        const recorded = f.tensor(step.state['moving_mean']!).data;
        const means = channelMeans(x, axis);
        means.forEach((mean, c) => {
          const batch = f32(mean);
          const blend = f32(f32(old[c]! * a) + f32(batch * f32(1 - a)));
          const decayToward = f32(old[c]! - f32(f32(old[c]! - batch) * f32(1 - a)));
          if (blend === recorded[c]) counts.blend++;
          if (decayToward === recorded[c]) counts.decayToward++;
        });
      }
      prev = step.state;
    }
  }
  return counts;
}

function channelMeans(x: HostTensor, axis: number): number[] {
  const channels = x.shape[axis]!;
  const inner = x.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const sums = new Array<number>(channels).fill(0);
  for (let i = 0; i < x.data.length; i++) sums[Math.floor(i / inner) % channels]! += x.data[i]!;
  return sums.map((s) => s / (x.data.length / channels));
}

describe('running update form, from float32 bits', () => {
  it('Keras 3 blends (its profile), more moving means exact than the decay-toward form', () => {
    const c = exactUpdates('keras');
    expect(keras.runningUpdateForm).toBe('blend');
    expect(c.blend).toBeGreaterThan(c.decayToward);
  });

  it('TF.js decays toward the batch (its profile), at least as many exact as the blend', () => {
    const c = exactUpdates('tfjs-layers');
    expect(tfjsLayers.runningUpdateForm).toBe('decay-toward');
    expect(c.decayToward).toBeGreaterThanOrEqual(c.blend);
  });
});
