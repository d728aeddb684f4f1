import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { linen, ModifyScopeVariableError, nn, nnx, random, shapeOf, ValueError } from './index.js';
import { engineCases, expectClose, upload, values } from './test-support/engines.js';

const cases = await engineCases();
const KEY = random.key(0);
const DATA = Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 4) - 0.5);
const COT = Array.from({ length: 24 }, (_, i) => Math.cos(i * 0.9) - 0.25);
const SCALE = [1.5, -0.5, 2, 0.75];
const BIAS = [0.1, -0.2, 0.3, 0];
const MEAN = [0.5, -1, 0.25, 2];
const VAR = [1.5, 0.5, 2, 3];
/** Rows 0–3 of the batch count towards the statistics, rows 4–5 do not. */
const MASK = [1, 1, 1, 1, 0, 0];

/**
 * The vjp helpers (linen `BatchNorm.vjp`, `nnx.BatchNorm.vjp`, legacy `nn.batchNormVjp`)
 * resolve a call as the call does and hand it to the engine's `vjp`: the three APIs agree,
 * match `tf.grad` through the differentiable call, change no state and raise the call's errors.
 */
describe.each(cases)('vjp helpers on $name', ({ engine, tf: onTf, atol }) => {
  const tol = Math.max(atol, 1e-9);
  const x = () => upload(engine, [6, 4], DATA);
  const dy = () => upload(engine, [6, 4], COT);
  const feat = (v: number[]) => upload(engine, [4], v);
  const opts = { momentum: 0.9, epsilon: 1e-3 };
  const linenVars = (): linen.Variables => ({
    params: { scale: feat(SCALE), bias: feat(BIAS) },
    batch_stats: { mean: feat(MEAN), var: feat(VAR) },
  });
  const nnxLayer = () => {
    const bn = new nnx.BatchNorm(4, { ...opts, rngs: new nnx.Rngs(0), engine });
    bn.scale!.value = feat(SCALE);
    bn.bias!.value = feat(BIAS);
    bn.mean.value = feat(MEAN);
    bn.var.value = feat(VAR);
    return bn;
  };
  const legacyState = () => new nn.Collection({ '/': { mean: feat(MEAN), var: feat(VAR) } });

  for (const mode of ['train', 'eval'] as const) {
    it(`linen, nnx and legacy agree in ${mode}, and nothing is updated`, () => {
      const ura = mode === 'eval';
      const lbn = new linen.BatchNorm(opts);
      const vars = linenVars();
      const gl = lbn.vjp(vars, x(), dy(), { useRunningAverage: ura, mutable: ['batch_stats'], engine });
      expect(values(vars['batch_stats']!['mean'])).toEqual(values(feat(MEAN)));

      const nbn = nnxLayer();
      const gn = nbn.vjp(x(), dy(), { useRunningAverage: ura });
      expect(values(nbn.mean.value)).toEqual(values(feat(MEAN)));

      const params = { scale: feat(SCALE), bias: feat(BIAS) };
      const [go, after] = nn.stateful(legacyState(), () => nn.batchNormVjp(params, x(), dy(), { ...opts, useRunningAverage: ura, engine }));
      expect(values(after.get('/')!['mean'])).toEqual(values(feat(MEAN)));

      expect(shapeOf(gl.input)).toEqual([6, 4]);
      expect(shapeOf(gl.params.scale)).toEqual([4]);
      for (const [a, b] of [
        [gn.input, gl.input],
        [gn.scale, gl.params.scale],
        [gn.bias, gl.params.bias],
        [go.input, gl.input],
        [go.params.scale, gl.params.scale],
        [go.params.bias, gl.params.bias],
      ]) {
        expectClose(values(a), values(b), tol, 1e-6);
      }
      // The bias gradient is the cotangent summed over the batch, whatever the mode.
      const colSums = [0, 1, 2, 3].map((c) => COT.filter((_, i) => i % 4 === c).reduce((s, v) => s + v, 0));
      expectClose(values(gl.params.bias), colSums, 1e-5);
    });
  }

  it('a mask reaches the vjp (linen and nnx agree, and differ from the unmasked vjp)', () => {
    const mask = upload(engine, [6, 1], MASK);
    const gl = new linen.BatchNorm(opts).vjp(linenVars(), x(), dy(), { useRunningAverage: false, mask, mutable: ['batch_stats'], engine });
    const gn = nnxLayer().vjp(x(), dy(), { mask });
    expectClose(values(gn.input), values(gl.input), tol, 1e-6);
    expectClose(values(gn.scale), values(gl.params.scale), tol, 1e-6);
    const unmasked = new linen.BatchNorm(opts).vjp(linenVars(), x(), dy(), { useRunningAverage: false, mutable: ['batch_stats'], engine });
    expect(Math.max(...values(unmasked.params.scale).map((v, i) => Math.abs(v - values(gl.params.scale)[i]!)))).toBeGreaterThan(1e-3);
  });

  it('multi-axis features: gradients have the parameters’ shapes; disabled parameters are absent', () => {
    const x3 = upload(engine, [4, 2, 3], DATA);
    const dy3 = upload(engine, [4, 2, 3], COT);
    const lbn = new linen.BatchNorm({ axis: [1, 2] });
    const vars = lbn.init(KEY, x3, { useRunningAverage: false, engine });
    const g = lbn.vjp(vars, x3, dy3, { useRunningAverage: false, mutable: ['batch_stats'], engine });
    expect(shapeOf(g.params.scale)).toEqual([2, 3]);
    expect(shapeOf(g.params.bias)).toEqual([2, 3]);
    const plain = new linen.BatchNorm({ useScale: false, useBias: false });
    const pv = plain.init(KEY, x(), { useRunningAverage: false, engine });
    expect(plain.vjp(pv, x(), dy(), { useRunningAverage: false, mutable: ['batch_stats'], engine }).params).toEqual({});
    // No stateful context: a legacy training call without state tracks nothing (and needs none).
    const go = nn.batchNormVjp({}, x3, dy3, { scale: false, bias: false, axis: [1, 2], engine });
    expect(go.params).toEqual({});
    expect(shapeOf(go.input)).toEqual([4, 2, 3]);
  });

  it('the call’s errors: linen without mutable, nnx first_from, legacy eval without state', () => {
    expect(() => new linen.BatchNorm().vjp(linenVars(), x(), dy(), { useRunningAverage: false, engine })).toThrow(ModifyScopeVariableError);
    const bn = nnxLayer();
    bn.useRunningAverage = null;
    expect(() => bn.vjp(x(), dy())).toThrow(ValueError);
    expect(() => nn.batchNormVjp({ scale: feat(SCALE), bias: feat(BIAS) }, x(), dy(), { useRunningAverage: true, engine })).toThrow(
      new ValueError('when use_running_averages is True either use a stateful context or provide batch_stats'),
    );
  });

  it.runIf(onTf)('equals tf.grad through the differentiable linen apply', () => {
    const lbn = new linen.BatchNorm(opts);
    for (const ura of [false, true]) {
      const vars = linenVars();
      const stats = vars['batch_stats']!;
      const f = (xx: tf.Tensor, s: tf.Tensor, b: tf.Tensor) => {
        const [y] = lbn.apply({ params: { scale: s, bias: b }, batch_stats: stats }, xx, { useRunningAverage: ura, mutable: ['batch_stats'], engine });
        return tf.sum(tf.mul(y as tf.Tensor, dy() as tf.Tensor));
      };
      const p = vars['params']! as Record<string, tf.Tensor>;
      const [dx, ds, db] = tf.grads(f)([x() as tf.Tensor, p['scale']!, p['bias']!]);
      const g = lbn.vjp(vars, x(), dy(), { useRunningAverage: ura, mutable: ['batch_stats'], engine });
      expectClose(values(g.input), values(dx), 1e-5, 1e-5);
      expectClose(values(g.params.scale), values(ds), 1e-5, 1e-5);
      expectClose(values(g.params.bias), values(db), 1e-5, 1e-5);
    }
  });
});
