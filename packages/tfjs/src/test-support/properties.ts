import { expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import {
  referenceEval,
  referenceTrain,
  referenceVjp,
  updatesRunningStatistics,
  type HostTensor,
  type StepOptions,
} from '@normbridge/core';
import { batchNormEvalOp, batchNormTrainOp } from '../differentiable-ops.js';
import type { TfjsEngine } from '../engine.js';
import { mismatch, PROPERTY_TOLERANCE, type Case } from '@normbridge/testing';

/** Modest: each run is a few dozen small kernels per backend; the suite must stay fast. */
const RUNS = { numRuns: 50 };

function upload(engine: TfjsEngine, c: Case) {
  const state = engine.stateFromHost(c.state);
  const x = engine.fromHost(c.x);
  const options: StepOptions<tf.Tensor> = { replicas: c.replicas, mask: c.mask && engine.fromHost(c.mask) };
  const dispose = () =>
    engine.dispose(x, options.mask, state.scale, state.bias, state.runningMean, state.runningVar);
  return { state, x, options, dispose };
}

/** Collects every mismatch of one case so that a failure names all that is wrong. */
function checker(engine: TfjsEngine) {
  const problems: string[] = [];
  return {
    problems,
    check(label: string, actual: tf.Tensor | undefined, expected: HostTensor | undefined) {
      if (expected === undefined || actual === undefined) {
        if (expected !== actual) problems.push(`${label}: present=${actual !== undefined}, expected ${expected !== undefined}`);
        return;
      }
      const problem = mismatch(engine.toHost(actual), expected, PROPERTY_TOLERANCE, label);
      if (problem) problems.push(problem);
    },
  };
}

/**
 * Train, eval, vjp and tf.grads of random cases from `arb` against core's float64 reference,
 * as `it` blocks for the describe block that calls it.
 */
export function referenceProperties(engine: () => TfjsEngine, arb: fc.Arbitrary<Case>): void {
  it('train: output, batch statistics and the new running statistics', () => {
    fc.assert(
      fc.property(arb, (c) => {
        const ref = referenceTrain(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
        const { state, x, options, dispose } = upload(engine(), c);
        const out = engine().train(c.spec, state, x, options);
        const { check, problems } = checker(engine());
        check('y', out.y, ref.y);
        check('batchMean', out.batchMean, ref.batchMean);
        check('batchVar', out.batchVar, ref.batchVar);
        if (updatesRunningStatistics(c.spec, 'train')) {
          check('runningMean', out.state.runningMean, ref.state.runningMean);
          check('runningVar', out.state.runningVar, ref.state.runningVar);
        } else {
          expect(out.state.runningMean).toBe(state.runningMean);
          expect(out.state.runningVar).toBe(state.runningVar);
        }
        expect(out.state.numBatchesTracked).toBe(ref.state.numBatchesTracked);
        expect(out.state.scale).toBe(state.scale);
        engine().dispose(out.y, out.batchMean, out.batchVar);
        if (out.state.runningMean !== state.runningMean) engine().dispose(out.state.runningMean, out.state.runningVar);
        dispose();
        expect(problems).toEqual([]);
      }),
      RUNS,
    );
  });

  it('eval: output with running (or batch) statistics', () => {
    fc.assert(
      fc.property(arb, (c) => {
        const ref = referenceEval(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
        const { state, x, options, dispose } = upload(engine(), c);
        const { check, problems } = checker(engine());
        const y = engine().evaluate(c.spec, state, x, options);
        check('y', y, ref);
        engine().dispose(y);
        dispose();
        expect(problems).toEqual([]);
      }),
      RUNS,
    );
  });

  it('vjp: dx, dScale and dBias in both modes', () => {
    fc.assert(
      fc.property(arb, fc.constantFrom('train' as const, 'eval' as const), (c, mode) => {
        const ref = referenceVjp(c.spec, c.state, c.x, c.dy, mode, { replicas: c.replicas, mask: c.mask });
        const { state, x, options, dispose } = upload(engine(), c);
        const dy = engine().fromHost(c.dy);
        const g = engine().vjp(c.spec, state, x, dy, mode, options);
        const { check, problems } = checker(engine());
        check('dx', g.dx, ref.dx);
        check('dScale', g.dScale, ref.dScale);
        check('dBias', g.dBias, ref.dBias);
        engine().dispose(dy, g.dx, g.dScale, g.dBias);
        dispose();
        expect(problems).toEqual([]);
      }),
      RUNS,
    );
  });

  it('tf.grads through the differentiable ops gives the reference gradient', () => {
    fc.assert(
      fc.property(arb, fc.constantFrom('train' as const, 'eval' as const), (c, mode) => {
        const ref = referenceVjp(c.spec, c.state, c.x, c.dy, mode, { replicas: c.replicas, mask: c.mask });
        const { state, x, options, dispose } = upload(engine(), c);
        const dy = engine().fromHost(c.dy);
        const params = [c.spec.scale ? state.scale! : undefined, c.spec.bias ? state.bias! : undefined];
        const present = params.filter((p): p is tf.Tensor => p !== undefined);
        const f = (xx: tf.Tensor, ...rest: tf.Tensor[]) => {
          const next = { ...state, scale: c.spec.scale ? rest[0] : undefined, bias: c.spec.bias ? rest.at(-1) : undefined };
          if (mode === 'eval') return batchNormEvalOp(c.spec, next, xx, options);
          const out = batchNormTrainOp(c.spec, next, xx, options);
          // The statistics are not part of y's gradient; free them inside the traced function.
          tf.dispose([out.batchMean, out.batchVar]);
          if (out.state.runningMean !== state.runningMean) tf.dispose([out.state.runningMean!, out.state.runningVar!]);
          return out.y;
        };
        const grads = tf.grads(f)([x, ...present], dy);
        const { check, problems } = checker(engine());
        check('dx', grads[0], ref.dx);
        check('dScale', c.spec.scale ? grads[1] : undefined, ref.dScale);
        check('dBias', c.spec.bias ? grads.at(-1) : undefined, ref.dBias);
        tf.dispose([dy, ...grads]);
        dispose();
        expect(problems).toEqual([]);
      }),
      RUNS,
    );
  });
}
