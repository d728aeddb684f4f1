// Runs hostile-corpus jobs in a child process (started by hostile-corpus.test.ts) against the
// BUILT packages, one job at a time, and reports for each: the outcome, the time, and the peak
// resident set size (VmHWM, reset before each job through /proc/self/clear_refs).
// Plain JavaScript on purpose: it runs in `node` without a TypeScript loader.
import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../../../../', import.meta.url);
const load = (p) => import(new URL(p, root).href);
const [{ main }, st, core, torch, mlx, keras] = await Promise.all([
  load('packages/cli/dist/main.js'),
  load('packages/safetensors/dist/index.js'),
  load('packages/core/dist/index.js'),
  load('adapters/torch/dist/index.js'),
  load('adapters/mlx/dist/index.js'),
  load('adapters/keras/dist/index.js'),
  load('packages/cli/dist/commands/conformance.js'),
]);

// The commands print reports; only this script's JSON lines go to the real stdout.
process.stdout.write = () => true;
process.stderr.write = () => true;
const emit = (o) => writeSync(1, `${JSON.stringify(o)}\n`);

const f32 = (shape, v) => ({ shape, data: Float32Array.from(v), dtype: 'float32' });

/** Hostile in-memory values for the adapters' loaders, by corpus id. */
const STATES = {
  'state-short-mean': { running_mean: f32([3], [1, 2]) },
  'state-long-mean': { running_mean: f32([3], [1, 2, 3, 4]) },
  'state-nan-var': { running_var: f32([3], [NaN, 1, 1]) },
  'state-negative-var': { running_var: f32([3], [-1, 1, 1]) },
  'state-huge-claimed-shape': { running_mean: { shape: [2 ** 40], data: new Float32Array(2), dtype: 'float32' } },
  'state-array-data': { running_mean: { shape: [3], data: [1, 2, 3], dtype: 'float32' } },
  'state-not-a-tensor': { running_mean: 'zeros(3)' },
  'state-counter-2^60+1': { num_batches_tracked: { shape: [], data: BigInt64Array.of((1n << 60n) + 1n), dtype: 'int64' } },
};
const KERAS_ORDER = { weight: 0, bias: 1, running_mean: 2, running_var: 3 };

async function run(job) {
  switch (job.entry) {
    case 'inspect':
      return main(['node', 'normbridge', 'inspect', job.path]);
    case 'convert':
      return main(['node', 'normbridge', 'convert', '--from', 'torch', '--to', 'flax', job.path, join(job.out, `${job.id}.out.safetensors`)]);
    case 'reader': {
      const reader = await st.openCheckpoint(job.path);
      try {
        const chunk = new Uint8Array(1 << 20);
        // Every tensor's data is read, streamed through 1 MB; of a file with thousands of tensors
        // only the first and last 500 (each read is a file-system round trip, and reading 10^5
        // of them is a throughput question, not a hostile-input one).
        const all = reader.tensors;
        const picked = all.length <= 1000 ? all : [...all.slice(0, 500), ...all.slice(-500)];
        for (const t of picked) {
          for (let off = 0; off < t.byteLength; off += chunk.length) {
            await reader.bytesInto(t.name, off, chunk.subarray(0, Math.min(chunk.length, t.byteLength - off)));
          }
        }
      } finally {
        await reader.close();
      }
      return 0;
    }
    case 'conformance':
      return main(['node', 'normbridge', 'conformance', '--fixtures', job.path, '--engine', 'reference-f64']);
    case 'torch-load': {
      if (job.path === 'state-num-features-2e9') return new torch.BatchNorm1d(2_000_000_000), 0;
      new torch.BatchNorm1d(3).loadStateDict(STATES[job.path], { strict: false });
      return 0;
    }
    case 'mlx-load': {
      if (job.path === 'state-num-features-2e9') return new mlx.BatchNorm(2_000_000_000), 0;
      const m = new mlx.Module({ bn: new mlx.BatchNorm(3) });
      m.loadWeights(Object.entries(STATES[job.path]).map(([k, v]) => [`bn.${k}`, v]), false);
      return 0;
    }
    case 'keras-set': {
      if (job.path === 'state-num-features-2e9') return new keras.BatchNormalization().build([null, 2_000_000_000]), 0;
      const bn = new keras.BatchNormalization();
      bn.build([null, 3]);
      const weights = bn.getWeights();
      for (const [k, v] of Object.entries(STATES[job.path])) if (k in KERAS_ORDER) weights[KERAS_ORDER[k]] = v;
      bn.setWeights(weights);
      return 0;
    }
    default:
      throw new Error(`unknown entry ${job.entry}`);
  }
}

function statusKb(field) {
  const m = new RegExp(`${field}:\\s*(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

// The peak a job would reach alone: this process's RSS with every module loaded and nothing
// run, plus how far the job raised the peak above the RSS it started from. (Memory a previous
// job freed stays resident in the allocator, so the raw peak would charge it to later jobs.)
globalThis.gc?.();
const baselineKb = statusKb('VmRSS');

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const job of jobs) {
  globalThis.gc?.();
  let startKb = baselineKb;
  try {
    writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
    startKb = statusKb('VmRSS');
  } catch {
    // not permitted: the peak then covers the whole run, a stricter bound
  }
  emit({ start: job.key });
  const t0 = performance.now();
  let outcome;
  let detail;
  try {
    const code = await run(job);
    outcome = code === 0 ? 'ok' : 'problems';
    detail = `exit ${code}`;
  } catch (e) {
    // Typed means a NormbridgeError (naming the field, key, file or shape); anything else is a crash.
    const typed = e instanceof core.NormbridgeError;
    outcome = typed ? 'rejected' : 'crash';
    detail = typed ? `${e.name} ${e.code}: ${String(e.message).slice(0, 200)}` : String(e && e.stack ? e.stack : e).slice(0, 600);
  }
  emit({ key: job.key, outcome, detail, ms: Math.round(performance.now() - t0), peakKb: baselineKb + Math.max(0, statusKb('VmHWM') - startKb) });
}
