import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'nb-cli-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const run = runCli;

describe('normbridge CLI', () => {
  it('demo: every engine agrees with the float64 reference', async () => {
    const { code, out } = await run('demo');
    expect(code).toBe(0);
    for (const engine of ['nb-wasm', 'tfjs-cpu', 'tfjs-wasm', 'ort-node', 'reference-f64']) expect(out).toMatch(new RegExp(`^${engine} `, 'm'));
    const tfjs = out.split('\n').find((l) => l.startsWith('tfjs-cpu '))!;
    const errors = tfjs.trim().split(/\s+/).slice(1).map(Number);
    for (const e of errors) expect(e).toBeLessThan(1e-4);
  }, 120_000);

  it('conformance: prints the matrix and exits 0 on the committed torch fixtures', async () => {
    const { code, out } = await run('conformance', '--framework', 'torch', '--markdown', join(work, 'm.md'));
    expect(code).toBe(0);
    // The default engine, nb-wasm, runs all 29, the float64 case included (in float64).
    expect(out).toMatch(/torch 1\.13\.0a0\s+nb-wasm\s+29\/29\s/);
    expect(out).toMatch(/torch 2\.13\.0\+cpu\s+nb-wasm\s+29\/29\s/);
    expect(await readFile(join(work, 'm.md'), 'utf8')).toMatch(/^\| framework \| engine \|/);
  }, 120_000);

  it('conformance: a float64 fixture is n/a on a float32-only engine (UnsupportedDtypeError), never run in float32', async () => {
    const { code, out } = await run('conformance', '--framework', 'torch', '--engine', 'tfjs-wasm', '--markdown', join(work, 'm.md'));
    expect(code).toBe(0);
    expect(out).toMatch(/torch 1\.13\.0a0\s+tfjs-wasm\s+28\/28\s+1\s/);
    expect(out).toMatch(/torch 2\.13\.0\+cpu\s+tfjs-wasm\s+28\/28\s+1\s/);
    expect(out).toMatch(/n\/a x2: UnsupportedDtypeError: a float64 fixture: engine "tfjs-wasm" cannot compute float64/);
    expect(await readFile(join(work, 'm.md'), 'utf8')).toMatch(/^\| framework \| engine \|/);
  }, 120_000);

  it('conformance: a user fixture folder that fails gives exit code 1 and names case, step and tensor', async () => {
    const { cp, readFile: rf, writeFile } = await import('node:fs/promises');
    const dir = join(work, 'mine', 'bn2d_defaults');
    await cp(join(ROOT, 'fixtures/torch/bn2d_defaults'), dir, { recursive: true });
    // Claim PyTorch used momentum 0.3 where it used 0.1: the replay must disagree.
    const manifest = JSON.parse(await rf(join(dir, 'manifest.json'), 'utf8'));
    manifest.layer.args.momentum = 0.3;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const { code, out } = await run('conformance', '--fixtures', join(work, 'mine'));
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL torch\/bn2d_defaults on nb-wasm: step \d+ \(train\) state running_mean: worst element \[\d+\]/);
  }, 120_000);

  it('conformance --case selects cases; --atol overrides (and says so); progress goes to stderr, the matrix to stdout', async () => {
    const { code, out, err } = await run('conformance', '--engine', 'reference-f64', '--case', 'torch/bn2d_*', 'onnx_inference_nchw', '--atol', '0.25');
    expect(code).toBe(0);
    expect(out).toMatch(/onnx opset-15\s+reference-f64\s+1\/1/);
    expect(out).toMatch(/torch 1\.13\.0a0\s+reference-f64\s+\d+\/\d+/);
    expect(out).not.toMatch(/^mlx /m);
    expect(out).toMatch(/Tolerance widened x\d+: tolerance overridden on the command line \(atol 0.25\)/);
    expect(out).not.toMatch(/conformance: \d+\/\d+/);
    expect(err).toMatch(/^conformance: \d+\/\d+$/m);
  }, 120_000);

  it('conformance rejects a negative --rtol and reports a --case that matches nothing', async () => {
    expect((await run('conformance', '--rtol', '-1')).code).not.toBe(0);
    const none = await run('conformance', '--case', 'no_such_case');
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no fixture matching --case no_such_case found/);
  }, 120_000);

  it('inspect: lists tensors and BatchNorm layers of a PyTorch checkpoint', async () => {
    const { code, out } = await run('inspect', join(ROOT, 'fixtures/checkpoints/tiny.safetensors'));
    expect(code).toBe(0);
    expect(out).toMatch(/running_var/);
    expect(out).toMatch(/BatchNorm/i);
  });

  it('convert: torch → flax writes the file and reports the mapping; round trip back to torch', async () => {
    const flax = join(work, 'tiny.flax.safetensors');
    const back = join(work, 'tiny.torch.safetensors');
    const toFlax = await run('convert', '--from', 'torch', '--to', 'flax', join(ROOT, 'fixtures/checkpoints/tiny.safetensors'), flax);
    expect(toFlax.code).toBe(0);
    expect((await stat(flax)).size).toBeGreaterThan(0);
    expect(toFlax.out).toMatch(/BatchNorm config for flax: eps 0\.01, momentum 0\.8/);
    expect(toFlax.out).toMatch(/OIHW → HWIO/);
    const toTorch = await run('convert', '--from', 'flax', '--to', 'torch', flax, back);
    expect(toTorch.code).toBe(0);
    const { readCheckpoint } = await import('@normbridge/safetensors');
    const original = await readCheckpoint(join(ROOT, 'fixtures/checkpoints/tiny.safetensors'));
    const roundTrip = await readCheckpoint(back);
    expect(Object.keys(roundTrip).sort()).toEqual(Object.keys(original).sort());
    for (const [k, v] of Object.entries(original)) expect(Array.from(roundTrip[k]!.data as ArrayLike<number>), k).toEqual(Array.from(v.data as ArrayLike<number>));
  });

  it('a usage error exits non-zero', async () => {
    const { code } = await run('convert', '--from', 'caffe', '--to', 'flax', 'a', 'b');
    expect(code).not.toBe(0);
  });
});
