import { expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { referenceVjp, type StepOptions } from '@normbridge/core';
import { batchNormEvalOp, batchNormTrainOp } from '../differentiable-ops.js';
import type { TfjsEngine } from '../engine.js';
import { engineReferenceProperties, referenceChecker, type Case } from '@normbridge/testing';

const RUNS = { numRuns: 50 };

function upload(engine: TfjsEngine, c: Case) {
  const state = engine.stateFromHost(c.state);
  const x = engine.fromHost(c.x);
  const options: StepOptions<tf.Tensor> = { replicas: c.replicas, mask: c.mask && engine.fromHost(c.mask) };
  const dispose = () =>
    engine.dispose(x, options.mask, state.scale, state.bias, state.runningMean, state.runningVar);
  return { state, x, options, dispose };
}

/**
 * Train, eval and vjp (shared with every engine, from @normbridge/testing) and tf.grads of
 * random cases from `arb` against core's float64 reference, as `it` blocks for the describe
 * block that calls it.
 */
export function referenceProperties(engine: () => TfjsEngine, arb: fc.Arbitrary<Case>): void {
  engineReferenceProperties(engine, arb);

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
        const { check, problems } = referenceChecker(engine());
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
