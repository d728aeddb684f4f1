/** Issue 16, item 9: exit codes say what happened; an empty output path writes nothing. */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { writeSafetensorsFile } from '@normbridge/safetensors';
import { EXIT_PROBLEMS } from './main.js';
import { runCli } from './test-support/run-cli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'nb-cli-exit-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const run = runCli;

const f32 = (v: number[]) => ({ dtype: 'F32' as const, shape: [v.length], data: Float32Array.from(v) });

describe('exit codes', () => {
  it('convert exits 1 when tensors were dropped (written, but not everything carried)', async () => {
    const input = join(work, 'with-layernorm.safetensors');
    await writeSafetensorsFile(input, {
      'bn.weight': f32([1, 1]),
      'bn.bias': f32([0, 0]),
      'bn.running_mean': f32([0, 0]),
      'bn.running_var': f32([1, 1]),
      'ln.weight': f32([1, 1]), // LayerNorm: not converted, reported as unexpected
    });
    const { code, out } = await run('convert', '--from', 'torch', '--to', 'flax', input, join(work, 'out.safetensors'));
    expect(out).toMatch(/WITH PROBLEMS/);
    expect(code).toBe(EXIT_PROBLEMS);
    const clean = await run('convert', '--from', 'torch', '--to', 'flax', join(ROOT, 'fixtures/checkpoints/tiny.safetensors'), join(work, 'tiny.flax.safetensors'));
    expect(clean.code).toBe(0);
  });

  it('convert to an empty path is refused and leaves no temporary file in the parent directory', async () => {
    const cwd = join(work, 'cwd');
    await mkdir(cwd);
    const spy = vi.spyOn(process, 'cwd').mockReturnValue(cwd);
    try {
      await expect(run('convert', '--from', 'torch', '--to', 'flax', join(ROOT, 'fixtures/checkpoints/tiny.safetensors'), '')).rejects.toMatchObject({ code: 'target-refused' });
    } finally {
      spy.mockRestore();
    }
    expect((await readdir(work)).filter((n) => n.endsWith('.normbridge-tmp'))).toEqual([]);
  });

  it('conformance exits 1 for an unknown framework and for an empty fixture folder', async () => {
    const bogus = await run('conformance', '--framework', 'bogus', '--engine', 'reference-f64');
    expect(bogus.code).toBe(1);
    expect(bogus.err).toMatch(/no fixture of framework bogus found/);
    const empty = join(work, 'empty');
    await mkdir(empty);
    const none = await run('conformance', '--fixtures', empty, '--engine', 'reference-f64');
    expect(none.code).toBe(1);
  }, 60_000);
});
