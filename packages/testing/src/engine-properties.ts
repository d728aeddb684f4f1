import { expect, it } from 'vitest';
import fc from 'fast-check';
import {
  referenceEval,
  referenceTrain,
  referenceVjp,
  updatesRunningStatistics,
  type HostTensor,
  type StepOptions,
  type SyncEngine,
} from '@normbridge/core';
import { mismatch } from './compare.js';
import type { Case } from './property-cases.js';
import { PROPERTY_TOLERANCE } from './property-tolerance.js';

/** Modest: each run is a few dozen small kernels per engine; the suites must stay fast. */
const RUNS = { numRuns: 50 };

export interface EnginePropertyOptions {
  /**
   * A figure of the engine's live memory (bytes, or tensors) that every case must leave as it
   * found it once the case has disposed what it made; unchecked when absent.
   */
  readonly live?: () => number;
}

function upload(engine: SyncEngine<any>, c: Case) {
  const state = engine.stateFromHost(c.state);
  const x = engine.fromHost(c.x);
  const options: StepOptions<unknown> = { replicas: c.replicas, mask: c.mask && engine.fromHost(c.mask) };
  const dispose = () => engine.dispose(x, options.mask, state.scale, state.bias, state.runningMean, state.runningVar);
  return { state, x, options, dispose };
}

/** Collects every mismatch of one case so that a failure names all that is wrong. */
export function referenceChecker(engine: SyncEngine<any>) {
  const problems: string[] = [];
  return {
    problems,
    check(label: string, actual: unknown, expected: HostTensor | undefined) {
      if (expected === undefined || actual === undefined) {
        if (expected !== actual) problems.push(`${label}: present=${actual !== undefined}, expected ${expected !== undefined}`);
        return;
      }
      const problem = mismatch(engine.toHost(actual), expected, PROPERTY_TOLERANCE, label);
      if (problem) problems.push(problem);
    },
  };
}

/** Runs `property` over `arb`, then checks that the engine's live memory is what it was. */
function assertLeavingNothing<A extends unknown[]>(options: EnginePropertyOptions, property: fc.IProperty<A>): void {
  const before = options.live?.();
  fc.assert(property, RUNS);
  if (options.live) expect(options.live()).toBe(before);
}

/**
 * Train, eval and vjp of random cases from `arb` on a synchronous engine against core's
 * float64 reference, as `it` blocks for the describe block that calls it.
 */
export function engineReferenceProperties(engine: () => SyncEngine<any>, arb: fc.Arbitrary<Case>, options: EnginePropertyOptions = {}): void {
  it('train: output, batch statistics and the new running statistics', () => {
    assertLeavingNothing(
      options,
      fc.property(arb, (c) => {
        const e = engine();
        const ref = referenceTrain(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
        const { state, x, options: step, dispose } = upload(e, c);
        const out = e.train(c.spec, state, x, step);
        const { check, problems } = referenceChecker(e);
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
        e.dispose(out.y, out.batchMean, out.batchVar);
        if (out.state.runningMean !== state.runningMean) e.dispose(out.state.runningMean, out.state.runningVar);
        dispose();
        expect(problems).toEqual([]);
      }),
    );
  });

  it('eval: output with running (or batch) statistics', () => {
    assertLeavingNothing(
      options,
      fc.property(arb, (c) => {
        const e = engine();
        const ref = referenceEval(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
        const { state, x, options: step, dispose } = upload(e, c);
        const { check, problems } = referenceChecker(e);
        const y = e.evaluate(c.spec, state, x, step);
        check('y', y, ref);
        e.dispose(y);
        dispose();
        expect(problems).toEqual([]);
      }),
    );
  });

  it('vjp: dx, dScale and dBias in both modes', () => {
    assertLeavingNothing(
      options,
      fc.property(arb, fc.constantFrom('train' as const, 'eval' as const), (c, mode) => {
        const e = engine();
        const ref = referenceVjp(c.spec, c.state, c.x, c.dy, mode, { replicas: c.replicas, mask: c.mask });
        const { state, x, options: step, dispose } = upload(e, c);
        const dy = e.fromHost(c.dy);
        const g = e.vjp(c.spec, state, x, dy, mode, step);
        const { check, problems } = referenceChecker(e);
        check('dx', g.dx, ref.dx);
        check('dScale', g.dScale, ref.dScale);
        check('dBias', g.dBias, ref.dBias);
        e.dispose(dy, g.dx, g.dScale, g.dBias);
        dispose();
        expect(problems).toEqual([]);
      }),
    );
  });
}
