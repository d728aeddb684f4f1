import { describe, expect, it } from 'vitest';
import { linen, nn, nnx, random } from './index.js';
import { engineCases, upload, values } from './test-support/engines.js';

const cases = await engineCases();
const KEY = random.key(0);
const DATA = Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 4) - 0.5);

/**
 * linen, NNX and legacy flax.nn are the same BatchNorm where Flax says so: decay momentum,
 * biased variance, E[x²] - E[x]² (clamped or not: equal while non-negative), running averages
 * in eval. Same inputs and options give the same numbers, on every engine.
 */
describe.each(cases)('linen, nnx and flax.nn agree on $name', ({ engine, name }) => {
  const x = () => upload(engine, [6, 4], DATA);
  const opts = { momentum: 0.9, epsilon: 1e-3 };

  it('training output, running statistics, eval output', () => {
    const lbn = new linen.BatchNorm({ ...opts });
    const vars = lbn.init(KEY, x(), { useRunningAverage: false, engine });
    const [yl, upd] = lbn.apply(vars, x(), { useRunningAverage: false, mutable: ['batch_stats'], engine });
    const yle = lbn.apply({ ...vars, ...upd }, x(), { useRunningAverage: true, engine });

    const nbn = new nnx.BatchNorm(4, { ...opts, rngs: new nnx.Rngs(0), engine });
    const yn = nbn.call(x());
    const yne = nbn.eval().call(x());

    const Net = nn.module('Net', (_self, xx: any, kw: { train: boolean }) => nn.BatchNorm(xx, { ...opts, useRunningAverage: !kw.train }));
    const [[, params], state] = nn.stateful(undefined, () => Net.init(KEY, x(), { train: true, engine }));
    const [yo, after] = nn.stateful(state, () => Net.call(params, x(), { train: true, engine }));
    const [yoe] = nn.stateful(after, () => Net.call(params, x(), { train: false, engine }), { mutable: false });

    expect(values(yn)).toEqual(values(yl));
    expect(values(yo)).toEqual(values(yl));
    expect(values(nbn.mean.value)).toEqual(values(upd['batch_stats']!['mean']));
    expect(values(after.get('/BatchNorm_0')!['var'])).toEqual(values(upd['batch_stats']!['var']));
    expect(values(yne)).toEqual(values(yle));
    expect(values(yoe)).toEqual(values(yle));
    expect(name).toBeTruthy();
  });

  it('two-pass variance: linen and nnx with useFastVariance false agree', () => {
    const lbn = new linen.BatchNorm({ ...opts, useFastVariance: false, useRunningAverage: false });
    const [yl, upd] = lbn.apply(lbn.init(KEY, x(), { engine }), x(), { mutable: ['batch_stats'], engine });
    const nbn = new nnx.BatchNorm(4, { ...opts, useFastVariance: false, rngs: new nnx.Rngs(0), engine });
    expect(values(nbn.call(x()))).toEqual(values(yl));
    expect(values(nbn.var.value)).toEqual(values(upd['batch_stats']!['var']));
  });

  it('where E[x²] - E[x]² goes negative, linen clamps at 0 and flax.nn does not (google/flax#1491)', () => {
    // A constant channel of 12345.67 (exact variance 0; not representable in binary).
    const data = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 12345.67 : i));
    const xc = upload(engine, [8, 2], data);
    const lbn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false });
    const [, upd] = lbn.apply(lbn.init(KEY, xc, { engine }), xc, { mutable: ['batch_stats'], engine });
    const linenVar = values(upd['batch_stats']!['var'])[0]!;
    const Net = nn.module('Net', (_self, xx: any) => nn.BatchNorm(xx, { momentum: 0 }));
    const [[, params], state] = nn.stateful(undefined, () => Net.init(KEY, xc, { engine }));
    const [y, after] = nn.stateful(state, () => Net.call(params, xc, { engine }));
    const legacyVar = values(after.get('/BatchNorm_0')!['var'])[0]!;
    expect(linenVar).toBeGreaterThanOrEqual(0);
    expect(legacyVar).toBeLessThanOrEqual(linenVar);
    if (name === 'reference-f64') {
      // float64: E[x²] - E[x]² = -2.98e-8 (one ulp of 1.5e8), clamped to 0 by linen.
      expect(linenVar).toBe(0);
      expect(legacyVar).toBeLessThan(0);
    }
    // With var + eps < 0 the legacy output is NaN, as in google/flax#1491.
    if (legacyVar + 1e-5 < 0) expect(Number.isNaN(values(y)[0]!)).toBe(true);
  });
});
