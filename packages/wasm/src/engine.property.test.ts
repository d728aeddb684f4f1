import { afterAll, beforeAll, describe } from 'vitest';
import { caseArb, consecutiveCaseArb, engineReferenceProperties } from '@normbridge/testing';
import { createWasmEngine, type WasmEngine } from './engine.js';

/**
 * One thread, and three threads that split every call however small (chunkElements 1),
 * so that the chunks and their float64 folds are exercised on the small drawn shapes. Every
 * case must leave the engine's live memory as it found it.
 */
const CONFIGS = [
  { label: '1 thread', options: { threads: 1 } },
  { label: '3 threads, every call split', options: { threads: 3, chunkElements: 1 } },
];

describe.each(CONFIGS)('nb-wasm ($label) against the float64 reference', ({ options }) => {
  let engine: WasmEngine;
  beforeAll(async () => {
    engine = await createWasmEngine(options);
  });
  afterAll(() => engine.close());
  const live = () => engine.memory().liveBytes;

  describe('any layout, masks and replicas', () => engineReferenceProperties(() => engine, caseArb, { live }));
  describe('features consecutive but not trailing (NCHW)', () => engineReferenceProperties(() => engine, consecutiveCaseArb, { live }));
});
