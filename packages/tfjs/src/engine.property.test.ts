import { describe } from 'vitest';
import { caseArb, consecutiveCaseArb } from '@normbridge/testing';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';
import { referenceProperties } from './test-support/properties.js';

describe.each(TEST_BACKENDS)('tfjs-%s against the float64 reference', (backend) => {
  const engine = useEngine(backend);

  describe('any layout, masks and replicas', () => referenceProperties(engine, caseArb));

  // NCHW-like layouts take the rows view on cpu: drawn on their own so every run covers them.
  describe('features consecutive but not trailing (NCHW)', () => referenceProperties(engine, consecutiveCaseArb));
});
