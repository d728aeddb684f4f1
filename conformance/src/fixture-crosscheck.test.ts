/**
 * Every committed fixture must agree with the float64 reference under docs/semantics.md; failures
 * here are deviations of a framework from docs/semantics.md (or bugs in a generator).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Int64Tensor } from '@normbridge/core';
import { crosscheckFixture } from './fixture-crosscheck.js';
import { listFixtureDirs, loadFixture } from './fixture-load.js';
import { FLOAT32_ROUNDING_TAG } from './runner.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
// Model-level fixtures (models/) are whole programs, outside the single-layer reference.
const committed = (await listFixtureDirs(FIXTURES)).filter((d) => !d.startsWith('models/'));

describe('every committed fixture agrees with the float64 reference under docs/semantics.md', () => {
  it.each(committed)('%s', async (rel) => {
    const f = await loadFixture(join(FIXTURES, rel));
    const { mismatches } = crosscheckFixture(f);
    if (f.manifest.frameworkBug && !f.manifest.steps.some((s) => s.error)) {
      // A recorded framework bug (TF.js CPU with a non-last axis, Keras' torch backend's one-pass
      // variance on a mean-1000 channel): the fixture must NOT match the correct result.
      expect(mismatches.length, 'the recorded bug should differ from the correct result').toBeGreaterThan(0);
      // TF.js: only the outputs are wrong; the moving statistics come from tf.moments over the right axes.
      if (f.manifest.framework.name === 'tfjs-layers') expect(mismatches.filter((msg) => !/ output\[/.test(msg))).toEqual([]);
      return;
    }
    if (f.manifest.tags?.includes(FLOAT32_ROUNDING_TAG)) {
      // float32 cancels the one-pass variance of the large-mean channel (index 1 of [n, 3]) to 0;
      // float64 keeps it: the fixture must differ from the reference there, and only there.
      expect(mismatches.length, 'float32 rounding should differ from the float64 reference').toBeGreaterThan(0);
      for (const msg of mismatches) {
        const [, tensorName, index] = /(output|runningVar|runningMean)\[(\d+)\]/.exec(msg) ?? [];
        expect(tensorName, msg).toBeDefined();
        expect(Number(index) % 3, msg).toBe(1);
      }
      return;
    }
    expect(mismatches).toEqual([]);
  });
});

describe('side effects of failing calls (not in docs/semantics.md; recorded by the real framework)', () => {
  it('torch increments num_batches_tracked before the one-value-per-channel check raises', async () => {
    const f = await loadFixture(join(FIXTURES, 'torch', 'bn1d_single_value_error'));
    const [failed] = f.manifest.steps;
    expect(failed!.error?.type).toBe('ValueError');
    const before = f.tensors.get(f.manifest.initialState['num_batches_tracked']!) as Int64Tensor;
    const after = f.tensors.get(failed!.state!['num_batches_tracked']!) as Int64Tensor;
    expect(after.data[0]! - before.data[0]!).toBe(1n);
    // …while the running statistics are untouched.
    expect(failed!.state!['running_mean']).toBe(f.manifest.initialState['running_mean']);
    expect(failed!.state!['running_var']).toBe(f.manifest.initialState['running_var']);
  });

  it('torch counts an empty training batch but leaves the running statistics alone', async () => {
    const f = await loadFixture(join(FIXTURES, 'torch', 'bn1d_empty_batch'));
    const [empty] = f.manifest.steps;
    expect((f.tensors.get(empty!.state!['num_batches_tracked']!) as Int64Tensor).data[0]).toBe(1n);
    expect(empty!.state!['running_mean']).toBe(f.manifest.initialState['running_mean']);
    expect(empty!.state!['running_var']).toBe(f.manifest.initialState['running_var']);
  });
});
