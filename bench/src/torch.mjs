// Finds a Python with PyTorch and runs torch_bench.py there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

/** NORMBRIDGE_BENCH_PYTHON, else a .venv in the repository or in bench/. */
function candidates() {
  const env = process.env.NORMBRIDGE_BENCH_PYTHON;
  if (env) return [env];
  return [join(repo, '.venv', 'bin', 'python'), join(repo, 'bench', '.venv', 'bin', 'python')].filter(existsSync);
}

/** `{ version, threads, results }`, or `{ skipped: reason }`. */
export function runTorch(cases, threads) {
  const pythons = candidates();
  if (pythons.length === 0) {
    return { skipped: 'no Python with torch: set NORMBRIDGE_BENCH_PYTHON (e.g. a venv with `pip install "torch==2.13.0+cpu" numpy`) or make .venv' };
  }
  const python = pythons[0];
  const run = spawnSync(python, [join(here, 'torch_bench.py'), String(threads), JSON.stringify(cases)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) return { skipped: `${python} failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}` };
  return { python, ...JSON.parse(run.stdout) };
}
