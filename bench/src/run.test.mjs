// `pnpm bench --quick` end to end (tiny shapes, a few calls each): CI never runs the bench itself,
// so this keeps the harness working. With a Python that does not exist, PyTorch and the
// head-to-head must say they were skipped and every engine must still be measured.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const run = join(dirname(fileURLToPath(import.meta.url)), 'run.mjs');

it('runs every engine on every op and layout, writes its JSON and PNG, and skips PyTorch when its Python is missing', () => {
  const out = mkdtempSync(join(tmpdir(), 'nb-bench-'));
  try {
    const env = { ...process.env, NORMBRIDGE_BENCH_OUT: out, NORMBRIDGE_BENCH_PYTHON: join(out, 'no-such-python') };
    const r = spawnSync(process.execPath, ['--expose-gc', run, '--quick'], { env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PyTorch: skipped/);
    expect(r.stdout).toMatch(/head-to-head: skipped/);
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    const engines = new Set(report.rows.map((row) => row.engine));
    for (const e of ['nb-wasm x1', 'tfjs-cpu', 'tfjs-wasm', 'reference-f64']) expect(engines).toContain(e);
    for (const op of ['train', 'eval', 'fwd+bwd']) {
      for (const layout of ['NCHW', 'NHWC', 'NC']) {
        expect(report.rows.some((row) => row.op === op && row.layout === layout && row.ms > 0)).toBe(true);
      }
    }
    expect(report.adapterOverhead).toHaveLength(2);
    expect(readFileSync(join(out, 'bench.png')).subarray(1, 4).toString()).toBe('PNG');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 150_000);
