import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { createTfjsEngine } from '@normbridge/tfjs';
import { describe, expect, it } from 'vitest';
import { loadFixtures, runConformance } from './runner.js';
import { trackTensors } from './tensor-tracking.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

describe('tensor disposal', () => {
  it('a whole conformance run on tfjs-cpu leaves no tensor alive (each would be a GPU buffer on a GPU backend)', async () => {
    await createTfjsEngine('cpu');
    const before = tf.memory().numTensors;
    const report = await runConformance({ fixtureDirs: [FIXTURES], engines: ['tfjs-cpu'] });
    expect(report.results.filter((r) => r.status === 'pass').length).toBeGreaterThan(50);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the tracking engine frees what it handed out, once, and passes everything else through', async () => {
    const engine = await createTfjsEngine('cpu');
    const { fixtures } = await loadFixtures([FIXTURES], ['torch']);
    expect(fixtures.length).toBeGreaterThan(0);
    const tracked = trackTensors(engine);
    expect(tracked.engine.name).toBe('tfjs-cpu');
    expect(tracked.engine.capabilities).toBe(engine.capabilities);
    const before = tf.memory().numTensors;
    const x = tracked.engine.fromHost({ shape: [2, 2], data: Float32Array.of(1, 2, 3, 4), dtype: 'float32' });
    tracked.engine.dispose(x); // a binding may free some itself; disposeAll must not trip over them
    tracked.engine.fromHost({ shape: [1], data: Float32Array.of(1), dtype: 'float32' });
    expect(tf.memory().numTensors).toBe(before + 1);
    tracked.disposeAll();
    expect(tf.memory().numTensors).toBe(before);
    expect(tracked.live).toBe(0);
  });
});
