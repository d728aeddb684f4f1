/**
 * Issue 16, items 3 and 9: hostile fixture folders are reported, never waited on, never read
 * without bound, never skipped in silence; an empty run is not a pass.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createReferenceEngine } from '@normbridge/core';
import { listFixtureDirs, loadFixture } from './fixture-load.js';
import { FixtureError } from './fixture-schema.js';
import { exitCodeOf } from './matrix.js';
import { loadFixtures, runCase, runConformance } from './runner.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const work = await mkdtemp(join(tmpdir(), 'nb-fixture-hostile-'));
afterAll(() => rm(work, { recursive: true, force: true }));

async function copyCase(name: string): Promise<string> {
  const dir = join(work, name, 'bn2d_defaults');
  await mkdir(dirname(dir), { recursive: true });
  await cp(join(FIXTURES, 'torch', 'bn2d_defaults'), dir, { recursive: true });
  return dir;
}

describe('hostile fixture folders', () => {
  it('a tensors file that links to /dev/zero is refused at once (it is not a regular file)', async () => {
    const dir = await copyCase('zero');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await rm(join(dir, manifest.tensors));
    await symlink('/dev/zero', join(dir, manifest.tensors));
    await expect(loadFixture(dir)).rejects.toThrow(FixtureError);
    await expect(loadFixture(dir)).rejects.toThrow(/not a regular file/);
  });

  it('a manifest.json that is a directory, a FIFO or a dangling link is listed and reported, not skipped', async () => {
    const root = join(work, 'odd');
    for (const kind of ['dir', 'fifo', 'link']) {
      const dir = join(root, kind);
      await mkdir(dir, { recursive: true });
      const m = join(dir, 'manifest.json');
      if (kind === 'dir') await mkdir(m);
      else if (kind === 'fifo') execFileSync('mkfifo', [m]);
      else await symlink(join(dir, 'nowhere.json'), m);
    }
    expect(await listFixtureDirs(root)).toEqual(['dir', 'fifo', 'link']);
    const { fixtures, invalid } = await loadFixtures([root]);
    expect(fixtures).toEqual([]);
    expect(invalid.map((i) => i.path.split('/').pop())).toEqual(['dir', 'fifo', 'link']);
  }, 10_000);

  it('num_features 2e9 is refused against the tensors, and by the constructor, before any allocation', async () => {
    const dir = await copyCase('huge');
    const path = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    manifest.layer.args.num_features = 2_000_000_000;
    await writeFile(path, JSON.stringify(manifest));
    // Checked against the tensors when the fixture loads, before any binding builds a layer.
    await expect(loadFixture(dir)).rejects.toThrow(/layer\.args\.num_features.*2000000000, more than any tensor/);
    // The cap in the constructors holds even when a binding is handed such a manifest directly.
    manifest.layer.args.num_features = 3;
    await writeFile(path, JSON.stringify(manifest));
    const fixture = await loadFixture(dir);
    (fixture.manifest.layer.args as Record<string, unknown>)['num_features'] = 2_000_000_000;
    const result = await runCase(fixture, createReferenceEngine());
    expect(result.status).toBe('fail');
    expect(result.reason).toMatch(/MAX_NUM_FEATURES/);
  });

  it('an empty folder or an unknown framework is exit code 1, not "0/0 cases" and 0', async () => {
    const empty = join(work, 'empty');
    await mkdir(empty);
    expect(exitCodeOf(await runConformance({ fixtureDirs: [empty], engines: ['reference-f64'] }))).toBe(1);
    expect(exitCodeOf(await runConformance({ fixtureDirs: [join(FIXTURES, 'torch')], engines: ['reference-f64'], frameworks: ['bogus'] }))).toBe(1);
  });
});
