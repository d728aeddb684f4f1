import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { referenceEval, referenceTrain, referenceVjp, updatesRunningStatistics, type HostTensor, type StepOptions } from '@normbridge/core';
import { caseArb, consecutiveCaseArb, mismatch, PROPERTY_TOLERANCE, type Case } from '@normbridge/testing';
import { createWasmEngine, type WasmEngine } from './engine.js';
import type { WasmTensor } from './tensor.js';

const RUNS = { numRuns: 60 };

/**
 * One thread, and three threads that split every call however small (minElementsPerThread 1),
 * so that the parts and their float64 folds are exercised on the small drawn shapes.
 */
const CONFIGS = [
  { label: '1 thread', options: { threads: 1 } },
  { label: '3 threads, every call split', options: { threads: 3, minElementsPerThread: 1 } },
];

describe.each(CONFIGS)('nb-wasm ($label) against the float64 reference', ({ options }) => {
  let engine: WasmEngine;
  beforeAll(async () => {
    engine = await createWasmEngine(options);
  });
  afterAll(() => engine.close());

  const upload = (c: Case) => {
    const state = engine.stateFromHost(c.state);
    const x = engine.fromHost(c.x);
    const opts: StepOptions<WasmTensor> = { replicas: c.replicas, mask: c.mask && engine.fromHost(c.mask) };
    const dispose = () => engine.dispose(x, opts.mask, state.scale, state.bias, state.runningMean, state.runningVar);
    return { state, x, opts, dispose };
  };
  const checker = () => {
    const problems: string[] = [];
    const check = (label: string, actual: WasmTensor | undefined, expected: HostTensor | undefined) => {
      if (expected === undefined || actual === undefined) {
        if (expected !== actual) problems.push(`${label}: present=${actual !== undefined}, expected ${expected !== undefined}`);
        return;
      }
      const problem = mismatch(engine.toHost(actual), expected, PROPERTY_TOLERANCE, label);
      if (problem) problems.push(problem);
    };
    return { problems, check };
  };

  describe.each([
    ['any layout, masks and replicas', caseArb],
    ['features consecutive but not trailing (NCHW)', consecutiveCaseArb],
  ] as const)('%s', (_, arb) => {
    it('train: output, batch statistics, new running statistics; nothing left allocated', () => {
      const before = engine.memory().liveBytes;
      fc.assert(
        fc.property(arb, (c) => {
          const ref = referenceTrain(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
          const { state, x, opts, dispose } = upload(c);
          const out = engine.train(c.spec, state, x, opts);
          const { check, problems } = checker();
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
          engine.dispose(out.y, out.batchMean, out.batchVar);
          if (out.state.runningMean !== state.runningMean) engine.dispose(out.state.runningMean, out.state.runningVar);
          dispose();
          expect(problems).toEqual([]);
        }),
        RUNS,
      );
      expect(engine.memory().liveBytes).toBe(before);
    });

    it('eval: output with running (or batch) statistics', () => {
      const before = engine.memory().liveBytes;
      fc.assert(
        fc.property(arb, (c) => {
          const ref = referenceEval(c.spec, c.state, c.x, { replicas: c.replicas, mask: c.mask });
          const { state, x, opts, dispose } = upload(c);
          const { check, problems } = checker();
          const y = engine.evaluate(c.spec, state, x, opts);
          check('y', y, ref);
          engine.dispose(y);
          dispose();
          expect(problems).toEqual([]);
        }),
        RUNS,
      );
      expect(engine.memory().liveBytes).toBe(before);
    });

    it('vjp: dx, dScale and dBias in both modes', () => {
      const before = engine.memory().liveBytes;
      fc.assert(
        fc.property(arb, fc.constantFrom('train' as const, 'eval' as const), (c, mode) => {
          const ref = referenceVjp(c.spec, c.state, c.x, c.dy, mode, { replicas: c.replicas, mask: c.mask });
          const { state, x, opts, dispose } = upload(c);
          const dy = engine.fromHost(c.dy);
          const g = engine.vjp(c.spec, state, x, dy, mode, opts);
          const { check, problems } = checker();
          check('dx', g.dx, ref.dx);
          check('dScale', g.dScale, ref.dScale);
          check('dBias', g.dBias, ref.dBias);
          engine.dispose(dy, g.dx, g.dScale, g.dBias);
          dispose();
          expect(problems).toEqual([]);
        }),
        RUNS,
      );
      expect(engine.memory().liveBytes).toBe(before);
    });
  });
});
