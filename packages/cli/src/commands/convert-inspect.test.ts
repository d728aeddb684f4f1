import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar } from '@normbridge/core';
import { readCheckpoint, writeSafetensorsFile } from '@normbridge/safetensors';
import { parseRenameRules, RenameRuleError } from './rename.js';
import { runCli } from '../test-support/run-cli.js';

const TINY = fileURLToPath(new URL('../../../../fixtures/checkpoints/tiny.safetensors', import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'nb-cli-convert-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const run = runCli;

/** A PyTorch state dict with no normbridge metadata, plus a LayerNorm the converter cannot map. */
let plain: string;
beforeAll(async () => {
  plain = join(work, 'plain.safetensors');
  await writeSafetensorsFile(plain, {
    'layer1.0.bn1.weight': hostTensor([2], [1, 2]),
    'layer1.0.bn1.bias': hostTensor([2], [0, 1]),
    'layer1.0.bn1.running_mean': hostTensor([2], [0.5, -0.5]),
    'layer1.0.bn1.running_var': hostTensor([2], [1, 2]),
    'layer1.0.bn1.num_batches_tracked': int64Scalar(3),
  });
});

describe('normbridge convert options', () => {
  it('--eps and --momentum set the config of layers without metadata, in the source convention', async () => {
    const out = join(work, 'eps.safetensors');
    const r = await run('convert', '--from', 'torch', '--to', 'keras', '--eps', '0.001', '--momentum', '0.01', plain, out);
    expect(r.code).toBe(0);
    const meta = (await import('@normbridge/safetensors')).openSafetensors;
    const f = await meta(out);
    try {
      expect(JSON.parse(f.metadata!['normbridge']!).batchNorm['layer1/0/bn1']).toEqual({ epsilon: 0.001, momentum: 0.99, numBatchesTracked: 3 });
    } finally {
      await f.close();
    }
  });

  it('--rename maps module paths (Flax-style layer1_0)', async () => {
    const out = join(work, 'renamed.safetensors');
    const r = await run('convert', '--from', 'torch', '--to', 'flax', '--rename', '^(layer\\d)/(\\d+)=$1_$2', '--eps', '1e-5', '--momentum', '0.1', plain, out);
    expect(r.code).toBe(0);
    expect(Object.keys(await readCheckpoint(out)).sort()).toEqual([
      'batch_stats/layer1_0/bn1/mean',
      'batch_stats/layer1_0/bn1/var',
      'params/layer1_0/bn1/bias',
      'params/layer1_0/bn1/scale',
    ]);
  });

  it('--dry-run reports and writes nothing; no output without it is a usage error', async () => {
    const out = join(work, 'never.safetensors');
    const r = await run('convert', '--from', 'torch', '--to', 'mlx', '--dry-run', TINY, out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dry run: nothing written/);
    await expect(access(out)).rejects.toThrow();
    expect((await run('convert', '--from', 'torch', '--to', 'mlx', TINY)).code).toBe(2);
  });

  it('exits 1 when the report has problems, 0 with --allow-problems', async () => {
    const bad = join(work, 'with-layernorm.safetensors');
    await writeSafetensorsFile(bad, { ...(await readCheckpoint(TINY)), 'ln.weight': hostTensor([4], [1, 1, 1, 1]), 'ln.bias': hostTensor([4], [0, 0, 0, 0]) });
    const r = await run('convert', '--from', 'torch', '--to', 'flax', bad, join(work, 'x.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--allow-problems/);
    expect((await run('convert', '--from', 'torch', '--to', 'flax', '--allow-problems', bad, join(work, 'y.safetensors'))).code).toBe(0);
  });

  it('rejects a malformed rename rule by name', () => {
    expect(() => parseRenameRules(['no-equals'])).toThrow(RenameRuleError);
    expect(() => parseRenameRules(['(=x'])).toThrow(/--rename "\(=x"/);
  });
});

describe('normbridge inspect options', () => {
  it('--summary lists BatchNorm layers and totals but no tensors', async () => {
    const r = await run('inspect', '--summary', TINY);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/BatchNorm layers/);
    expect(r.out).not.toMatch(/conv\.weight/);
  });

  it('--json prints the report as JSON', async () => {
    const r = await run('inspect', '--json', TINY);
    const report = JSON.parse(r.out) as { framework: string; batchNorm: unknown[]; totals: { tensors: number } };
    expect(report.framework).toBe('torch');
    expect(report.batchNorm).toHaveLength(1);
    expect(report.totals.tensors).toBe(9);
  });
});

describe('normbridge conformance --as', () => {
  it('translates torch fixtures into other frameworks and explains every difference by a convention', async () => {
    const fixtures = fileURLToPath(new URL('../../../../fixtures/torch', import.meta.url));
    const r = await run('conformance', '--fixtures', fixtures, '--as', 'flax-linen,keras', '--as', 'mlx');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/torch\/bn2d_defaults\s+flax-linen\s+differs \(explained\).*runningVarianceEstimator: "unbiased" → "biased"/);
    expect(r.out).toMatch(/torch\/bn2d_defaults\s+mlx\s+reproduces/);
    expect(r.out).toMatch(/torch\/bn1d_momentum_none\s+keras\s+cannot-express, measured\s+.*as the nearest it can express, momentum 1 .*running_mean \d\.\de[-+]\d after 5 train step\(s\).*runningAverage: \{"kind":"cumulative"\}/);
    expect(r.out).toMatch(/0 unexplained difference\(s\)\./);
  }, 120_000);

  it('runs on the engines --engine names, asynchronous ONNX Runtime included, one table each', async () => {
    const fixtures = fileURLToPath(new URL('../../../../fixtures/torch', import.meta.url));
    const r = await run('conformance', '--fixtures', fixtures, '--framework', 'torch', '--as', 'flax-linen', '--engine', 'tfjs-cpu', 'ort-node');
    expect(r.code).toBe(0);
    const [cpu, ort] = r.out.split(/^engine ort-node:$/m);
    expect(cpu).toMatch(/^engine tfjs-cpu:$/m);
    for (const table of [cpu!, ort!]) {
      expect(table).toMatch(/torch\/bn2d_defaults\s+flax-linen\s+differs \(explained\).*runningVarianceEstimator/);
      expect(table).toMatch(/torch\/bn2d_momentum_none_nondefault_counter\s+flax-linen\s+cannot-express, measured.*momentum 0\.125/);
      expect(table).toMatch(/0 unexplained difference\(s\)\./);
    }
  }, 120_000);

  it('takes --case as the plain run does; no fixture matched is a failure, not an empty pass', async () => {
    const fixtures = fileURLToPath(new URL('../../../../fixtures/torch', import.meta.url));
    const r = await run('conformance', '--fixtures', fixtures, '--as', 'keras', '--engine', 'tfjs-cpu', '--case', 'torch/bn2d_defaults');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('torch/'))).toHaveLength(1);
    expect(r.out).toMatch(/torch\/bn2d_defaults\s+keras\s+differs \(explained\)/);
    expect((await run('conformance', '--fixtures', fixtures, '--as', 'keras', '--engine', 'tfjs-cpu', '--case', 'no_such_case')).code).toBe(1);
  });

  it('refuses --browser (the translation replays in Node)', async () => {
    const r = await run('conformance', '--as', 'mlx', '--browser');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--as runs in Node/);
  });

  it('refuses an unknown framework', async () => {
    expect((await run('conformance', '--as', 'caffe')).code).toBe(2);
  });
});
