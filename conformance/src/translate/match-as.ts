/**
 * `toMatchFixture(path, { as })`: a fixture recorded in one framework checked against the
 * user's layer of another. Passes when the user's layer is configured as the translation
 * says (the same spec conventions as the layer `batchNormsFromCheckpoint` builds from the
 * fixture) and the replay differs from the source only where a named convention explains it.
 */
import { getDefaultEngine, type Engine } from '@normbridge/core';
import { batchNormsFromCheckpoint, PortError, type PortTarget } from '@normbridge/port';
import { loadFixture } from '../fixture-load.js';
import { crossCheck } from './cross-framework.js';
import { driverFor } from './drivers.js';
import { fixtureCheckpoint, MODULE } from './fixture-checkpoint.js';
import { formatCrossTable } from './format-cross.js';
import { linen } from '@normbridge/flax';

export interface MatchAsOptions {
  /** The framework of the layer under test; the fixture is translated into it. */
  readonly as: PortTarget;
}

/** Spec fields a user sets on their layer (constructor arguments) and a port must carry over. */
const CONFIGURED = ['epsilon', 'runningAverage'] as const;

export async function matchAs(received: unknown, path: string, options: MatchAsOptions): Promise<{ pass: boolean; message: () => string }> {
  const engine: Engine<any> = (received as { engine?: Engine<any> } | null)?.engine ?? getDefaultEngine();
  const fixture = await loadFixture(path);
  const result = await crossCheck(fixture, options.as, engine);
  const table = formatCrossTable([result]);
  if (result.status === 'n/a' || result.status === 'cannot-express') {
    return { pass: false, message: () => `fixture ${result.case} cannot be checked as ${options.as}:\n${table}` };
  }
  // The user's layer against the layer the translation builds.
  const m = fixture.manifest;
  const rank = fixture.tensors.get(m.steps[0]!.input)!.shape.length;
  const { reader, naming } = fixtureCheckpoint(fixture, m.initialState);
  let expectedSpec;
  try {
    const ported = await batchNormsFromCheckpoint(reader, { as: options.as, engine, from: naming, kerasInputRank: rank });
    const driver = driverFor(options.as, ported.layers.get(MODULE)!, engine);
    expectedSpec = driver.spec(rank);
    driver.dispose();
  } catch (e) {
    if (e instanceof PortError) return { pass: false, message: () => e.message };
    throw e;
  }
  const given = options.as === 'flax-linen' && received instanceof linen.BatchNorm ? { module: received, variables: {} } : received;
  const userSpec = driverFor(options.as, given as never, engine).spec(rank);
  const wrong = CONFIGURED.filter((f) => JSON.stringify(userSpec[f]) !== JSON.stringify(expectedSpec[f])).map(
    (f) => `${f}: the layer has ${JSON.stringify(userSpec[f])}, the port of ${result.case} needs ${JSON.stringify(expectedSpec[f])}`,
  );
  const pass = wrong.length === 0 && (result.status === 'reproduces' || result.explained);
  return {
    pass,
    message: () =>
      pass
        ? `expected the layer not to match ${result.case} as ${options.as}, but it does:\n${table}`
        : [...(wrong.length > 0 ? ['the layer is not configured as the port needs:', ...wrong.map((w) => `  ${w}`)] : []), table].join('\n'),
  };
}
