// Finds a Python with PyTorch and runs torch_bench.py there.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
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

/**
 * PyTorch's CPU tensors come from glibc malloc, which by default hands blocks of this size back
 * to the kernel on free and maps them again, zeroed page by page, on the next call: forward+
 * backward on [32, 56, 56, 64] then took 5.6 ms in some calls and 56-62 ms in others. With
 * these two settings every call reuses the heap (6.1 ms median), the speed a tuned PyTorch
 * process has. The bench compares against that best case.
 */
const TORCH_ENV = { ...process.env, MALLOC_MMAP_THRESHOLD_: String(2 ** 30), MALLOC_TRIM_THRESHOLD_: String(2 ** 32 - 1) };

const NO_PYTHON = 'no Python with torch: set NORMBRIDGE_BENCH_PYTHON (e.g. a venv with `pip install "torch==2.13.0+cpu" numpy`) or make .venv';

/** `{ version, threads, results }`, or `{ skipped: reason }`. */
export function runTorch(cases, threads) {
  const pythons = candidates();
  if (pythons.length === 0) return { skipped: NO_PYTHON };
  const python = pythons[0];
  const run = spawnSync(python, [join(here, 'torch_bench.py'), String(threads), JSON.stringify(cases)], {
    env: TORCH_ENV,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) return { skipped: `${python} failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}` };
  return { python, ...JSON.parse(run.stdout) };
}

/**
 * torch_bench.py in `serve` mode, for alternating phases: `{ python, version, threads,
 * sample(case, runs, warm, warmMs) → Promise<ms[]> (after at least `warm` untimed calls and
 * `warmMs`), close() }`, or `{ skipped: reason }`. While PyTorch runs a
 * phase, this process only waits for the answer.
 */
export async function startTorchServer(threads) {
  const pythons = candidates();
  if (pythons.length === 0) return { skipped: NO_PYTHON };
  const python = pythons[0];
  const child = spawn(python, [join(here, 'torch_bench.py'), 'serve', String(threads)], { env: TORCH_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  child.on('error', (e) => (stderr += `\n${e.message}`)); // no such Python: stdout just closes
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error(`${python} torch_bench.py serve stopped: ${stderr.trim().split('\n').pop() ?? ''}`);
    return JSON.parse(line.value);
  };
  let hello;
  try {
    hello = await next();
  } catch (error) {
    child.kill();
    return { skipped: error.message };
  }
  return {
    python,
    ...hello,
    async sample(c, runs, warm = 0, warmMs = 0) {
      child.stdin.write(`${JSON.stringify({ layout: c.layout, shape: c.shape, op: c.op, runs, warm, warm_ms: warmMs })}\n`);
      return (await next()).ms;
    },
    /** Ends the server and waits for its exit: a Python tearing down torch takes a core for about half a second. */
    close() {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      child.stdin.end();
      return exited;
    },
  };
}
