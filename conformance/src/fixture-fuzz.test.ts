/**
 * Fuzzing fixtures (issue 16): a committed fixture with a mutated manifest (any field replaced
 * by any JSON value, or removed) or mutated tensor bytes either loads and replays to a result,
 * or is refused with a typed NormbridgeError (FixtureError, SafetensorsError, ...). Never a
 * TypeError, RangeError, hang or unbounded allocation.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createReferenceEngine, NormbridgeError } from '@normbridge/core';
import { loadFixture } from './fixture-load.js';
import { runCase } from './runner.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const BASE = join(FIXTURES, 'torch', 'bn1d_eps_1e-3');
const work = await mkdtemp(join(tmpdir(), 'nb-fixture-fuzz-'));
afterAll(() => rm(work, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const jsonValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2_000_000_000, 1e308, -0, '', 'x', [], {}, [3], ['x'], { a: 1 }),
  fc.string({ maxLength: 6 }),
  fc.integer(),
);

/** Every path (as keys) to a value inside `v`. */
function paths(v: Json, prefix: string[] = []): string[][] {
  const out: string[][] = [prefix];
  if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x as Json, [...prefix, k]));
  return out;
}

function setAt(root: Json, path: string[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root) as Record<string, Json>;
  let o: Record<string, Json> = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, Json>;
  if (value === undefined) delete o[path[path.length - 1]!];
  else o[path[path.length - 1]!] = value;
  return copy;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('manifest' as const), nth: fc.nat(), value: fc.option(jsonValue, { nil: undefined }) }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

describe('fuzzing fixtures', () => {
  it('a mutated manifest or tensor file loads and replays, or is refused with a typed error', async () => {
    const manifest = JSON.parse(await readFile(join(BASE, 'manifest.json'), 'utf8')) as Json;
    const tensorsName = (manifest as { tensors: string }).tensors;
    const tensors = new Uint8Array(await readFile(join(BASE, tensorsName)));
    const allPaths = paths(manifest);
    const engine = createReferenceEngine();
    const outcomes = new Map<string, number>();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const dir = join(work, `r${run++}`, 'bn1d_eps_1e-3');
        await cp(BASE, dir, { recursive: true });
        let m = manifest;
        let bytes = tensors;
        for (const mu of mutations) {
          if (mu.kind === 'manifest') m = setAt(m, allPaths[mu.nth % allPaths.length]!, mu.value);
          else if (mu.kind === 'bytes') (bytes = bytes.slice())[mu.at % bytes.length]! ^= mu.mask;
          else bytes = bytes.slice(0, mu.at % (bytes.length + 1));
        }
        await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
        await writeFile(join(dir, tensorsName), bytes);
        try {
          const fixture = await loadFixture(dir);
          const result = await runCase(fixture, engine);
          outcomes.set(result.status, (outcomes.get(result.status) ?? 0) + 1);
        } catch (e) {
          if (!(e instanceof NormbridgeError)) throw e;
          outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
        } finally {
          await rm(dirname(dir), { recursive: true, force: true });
        }
      }),
      { numRuns: 60, seed: 16 },
    );
    // Both sides are reached: some mutants load and replay, others are refused.
    expect((outcomes.get('pass') ?? 0) + (outcomes.get('fail') ?? 0)).toBeGreaterThan(0);
    expect(outcomes.get('fixture') ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
