import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listFixtureDirs, loadFixture, loadFixtureFromBytes } from './fixture-load.js';
import { FixtureError } from './fixture-schema.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const [first] = await listFixtureDirs(FIXTURES);

async function bytesOf(rel: string) {
  const dir = join(FIXTURES, rel);
  const manifest = await readFile(join(dir, 'manifest.json'));
  const tensorsName = JSON.parse(manifest.toString('utf8')).tensors as string;
  return { manifest: new Uint8Array(manifest), tensors: new Uint8Array(await readFile(join(dir, tensorsName))) };
}

describe('fixtures loaded from bytes (a browser has no folders)', () => {
  it('give the same manifest and tensors as the folder', async () => {
    const fromDir = await loadFixture(join(FIXTURES, first!));
    const fromBytes = loadFixtureFromBytes({ ...(await bytesOf(first!)), label: first });
    expect(fromBytes.manifest).toEqual(fromDir.manifest);
    expect([...fromBytes.tensors.keys()]).toEqual([...fromDir.tensors.keys()]);
    for (const [name, t] of fromDir.tensors) expect(fromBytes.tensors.get(name)!.data, name).toEqual(t.data);
  });

  it('report a bad manifest as a FixtureError naming the label', async () => {
    const { tensors } = await bytesOf(first!);
    const error = (() => {
      try {
        loadFixtureFromBytes({ manifest: '{ not json', tensors, label: 'dropped.json' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(FixtureError);
    expect((error as Error).message).toContain('dropped.json');
  });

  it('refuse tensors that do not match the manifest', async () => {
    const { manifest } = await bytesOf(first!);
    expect(() => loadFixtureFromBytes({ manifest, tensors: new Uint8Array(16), label: 'x' })).toThrow();
  });
});
