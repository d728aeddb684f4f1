import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '@normbridge/core';
import { createTfjsEngine } from '@normbridge/tfjs';
import { loadFixture } from '../fixture-load.js';
import { crossCheck, formatCrossTable } from './index.js';

const fixture = (p: string) => loadFixture(fileURLToPath(new URL(`../../../fixtures/${p}`, import.meta.url)));
let engine: Engine<any>;
beforeAll(async () => {
  engine = await createTfjsEngine('cpu');
});

describe('a torch fixture replayed through other frameworks', () => {
  it('reproduces itself through the torch adapter (the translation is the identity)', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_defaults'), 'torch', engine);
    expect(r.status).toBe('reproduces');
    expect(r.conventions).toEqual([]);
  });

  it('in Flax linen: train outputs match, running_var (and so eval output) differs by the variance estimator (PyTorch unbiased, Flax biased)', async () => {
    const r = await crossCheck(await fixture('torch/bn2d_defaults'), 'flax-linen', engine);
    expect(r.status).toBe('differs');
    expect(r.explained).toBe(true);
    const byField = Object.fromEntries(r.fields.map((f) => [f.field, f]));
    expect(byField['train output']!.ok).toBe(true);
    expect(byField['eval output']!.ok).toBe(false);
    expect(byField['running_mean']!.ok).toBe(true);
    expect(byField['running_var']!.ok).toBe(false);
    expect(byField['running_var']!.final).toBeGreaterThan(1e-3);
    expect(r.conventions.some((c) => c.startsWith('runningVarianceEstimator: "unbiased" → "biased"'))).toBe(true);
    // Momentum 0.1 (batch weight) became Flax's 0.9 (decay): same canonical running average.
    expect(r.conventions.some((c) => c.startsWith('runningAverage'))).toBe(false);
  });

  it('says a cumulative average (momentum=None) cannot be expressed in Keras', async () => {
    const r = await crossCheck(await fixture('torch/bn1d_momentum_none'), 'keras', engine);
    expect(r.status).toBe('cannot-express');
    expect(r.reason).toMatch(/cumulative/);
  });

  it('prints one row per fixture and target', async () => {
    const f = await fixture('torch/bn2d_defaults');
    const table = formatCrossTable([await crossCheck(f, 'torch', engine), await crossCheck(f, 'mlx', engine), await crossCheck(f, 'keras', engine)]);
    expect(table).toMatch(/torch\/bn2d_defaults\s+torch\s+reproduces/);
    expect(table).toMatch(/torch\/bn2d_defaults\s+keras\s+differs \(explained\)\s+eval output 4\.8e-3 after 1 eval step\(s\).*running_var 2\.8e-3 after 3 train step\(s\).*runningVarianceEstimator/);
    expect(table).toMatch(/0 unexplained/);
  });
});
