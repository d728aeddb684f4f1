/**
 * Threads that run the kernels' unit-range functions on chunks of one tensor, over the engine's
 * shared memory. A pass is cut into chunks that do not depend on the thread count. Each thread
 * (the caller's included) claims the chunks of its own contiguous share one by one, then claims
 * what is left of the other shares. So a thread the machine slows down takes fewer chunks
 * instead of holding the others up, and per-chunk sums, folded in chunk order, give the same
 * bits on any number of threads. Shares keep each thread's stream contiguous in memory: against
 * chunks dealt out alternately, a [32, 64, 56, 56] normalise on two threads ran 2-9 % faster
 * (three A/B runs of 60 alternating rounds; the machine's noise is larger than that).
 *
 * Jobs are handed over through a small shared control block rather than messages: a message
 * costs a trip through the event loop (tens of µs); a futex wake-up costs a few.
 */
import { importNodeBuiltin, UnsupportedError } from '@normbridge/core';
import { UNIT_KERNELS, type KernelExports, type UnitKernel } from './kernels.js';

/** One pass: `kernel` over [0, units) in `chunks` chunks. */
export interface Job {
  readonly kernel: UnitKernel;
  readonly units: number;
  readonly chunks: number;
  /** The kernel's arguments; `u0` and `u1` name the positions of a chunk's range. */
  readonly args: readonly number[];
  readonly u0: number;
  readonly u1: number;
  /** Per-chunk arguments (a chunk's own sums): `args[slot] + chunk · stride`; at most two. */
  readonly perChunk?: readonly (readonly [slot: number, stride: number])[];
}

/** Where each field of a job sits in the control block (Int32Array). */
const CONTROL = {
  sequence: 0, // bumped once per job; -1 in `kernel` stops the workers
  done: 1, // workers finished with the current job
  failed: 2, // a kernel trapped in a worker
  threads: 3, // threads in the pool, the caller's included
  kernel: 4, // index into UNIT_KERNELS + 1
  units: 5,
  chunks: 6,
  u0: 7,
  u1: 8,
  perChunk: 9, // two (slot, stride) pairs, slot -1 when unused
  count: 13,
  args: 14, // up to 14 arguments (the widest kernel takes 11)
  claims: 28, // per thread: the next chunk of its share to claim
  size: 28, // words before the claims (the block holds size + threads)
} as const;
type Control = typeof CONTROL;

/**
 * Runs chunks of the job in `ctl` until none is left: first those of thread `self`'s share,
 * then what is left of the others' (share t is chunks [t·chunks/threads, (t+1)·chunks/threads)).
 * Every thread runs this same function; a worker gets its source text, so it refers to nothing
 * outside itself.
 */
function runChunks(kernels: Record<string, (...a: number[]) => void>, names: readonly string[], ctl: Int32Array, at: Control, self: number): void {
  const kernel = kernels[names[ctl[at.kernel]! - 1]!]!;
  const units = ctl[at.units]!;
  const chunks = ctl[at.chunks]!;
  const threads = ctl[at.threads]!;
  const base = Array.from(ctl.subarray(at.args, at.args + ctl[at.count]!));
  const args = base.slice();
  for (let k = 0; k < threads; k++) {
    const share = (self + k) % threads;
    const end = Math.floor(((share + 1) * chunks) / threads);
    for (let c = Atomics.add(ctl, at.claims + share, 1); c < end; c = Atomics.add(ctl, at.claims + share, 1)) {
      args[ctl[at.u0]!] = Math.floor((units * c) / chunks);
      args[ctl[at.u1]!] = Math.floor((units * (c + 1)) / chunks);
      for (let p = 0; p < 2; p++) {
        const slot = ctl[at.perChunk + 2 * p]!;
        if (slot >= 0) args[slot] = base[slot]! + c * ctl[at.perChunk + 2 * p + 1]!;
      }
      kernel(...args);
    }
  }
}

function writeJob(ctl: Int32Array, job: Job): void {
  if (job.args.length > CONTROL.size - CONTROL.args || (job.perChunk?.length ?? 0) > 2) throw new RangeError(`nb-wasm job for ${job.kernel} too large`);
  const threads = ctl[CONTROL.threads]!;
  for (let t = 0; t < threads; t++) ctl[CONTROL.claims + t] = Math.floor((t * job.chunks) / threads);
  ctl[CONTROL.kernel] = UNIT_KERNELS.indexOf(job.kernel) + 1;
  ctl[CONTROL.units] = job.units;
  ctl[CONTROL.chunks] = job.chunks;
  ctl[CONTROL.u0] = job.u0;
  ctl[CONTROL.u1] = job.u1;
  for (let p = 0; p < 2; p++) {
    const pair = job.perChunk?.[p];
    ctl[CONTROL.perChunk + 2 * p] = pair ? pair[0] : -1;
    ctl[CONTROL.perChunk + 2 * p + 1] = pair ? pair[1] : 0;
  }
  ctl[CONTROL.count] = job.args.length;
  ctl.set(job.args, CONTROL.args);
}

/**
 * How long a thread polls a control word before it sleeps on the futex. A worker spans the gaps
 * between the passes of one call and between the calls of a training loop, so that a pass
 * starts without a wake-up; the caller spans the µs by which the last chunks finish apart.
 * A wake-up cost the caller 25-50 µs here in one call of ten (a VM's cross-core interrupt), so
 * with a budget of 20 000 polls a [32, 64, 56, 56] train step spent 12-29 µs per pass on
 * average starting its workers, against 2 µs when they were still polling. OpenMP's threads
 * spin about as long (libgomp's default) for the same reason; the cost is a core kept busy for
 * at most this long after the last call.
 */
const SPIN_MICROSECONDS = 500;

/** Polls between two looks at the clock (performance.now() costs far more than a poll). */
const POLLS_PER_CLOCK = 256;

// Plain JavaScript run by `new Worker(..., { eval: true })`: it instantiates the kernels on the
// shared memory and runs jobs until told to stop.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { memory, module, control, names, at, self } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const runChunks = ${runChunks.toString()};
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  const sleepAt = performance.now() + ${SPIN_MICROSECONDS / 1000};
  let polls = 0;
  while (Atomics.load(ctl, at.sequence) === seen) {
    if (++polls % ${POLLS_PER_CLOCK} === 0 && performance.now() > sleepAt) Atomics.wait(ctl, at.sequence, seen);
  }
  seen = Atomics.load(ctl, at.sequence);
  if (ctl[at.kernel] < 0) break;
  try {
    runChunks(kernels, names, ctl, at, self);
  } catch (e) {
    Atomics.store(ctl, at.failed, 1);
  }
  Atomics.add(ctl, at.done, 1);
  Atomics.notify(ctl, at.done);
}
`;

/** Runs jobs: on the calling thread alone, or with worker threads (`createThreadPool`). */
export interface ThreadPool {
  /** Threads in all, the calling one included. */
  readonly threads: number;
  /** Runs every chunk of `job`; returns when all are done. */
  run(job: Job): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** The calling thread alone: the same chunks, in order. */
export function singleThread(local: KernelExports): ThreadPool {
  const ctl = new Int32Array(CONTROL.size + 1);
  ctl[CONTROL.threads] = 1;
  const kernels = local as unknown as Record<string, (...a: number[]) => void>;
  return {
    threads: 1,
    run(job) {
      writeJob(ctl, job);
      runChunks(kernels, UNIT_KERNELS, ctl, CONTROL, 0);
    },
    close: async () => {},
  };
}

/** The caller plus `threads - 1` Node worker threads sharing `memory`. */
export async function createThreadPool(
  threads: number,
  memory: WebAssembly.Memory,
  module: WebAssembly.Module,
  local: KernelExports,
): Promise<ThreadPool> {
  const { Worker } = await importNodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
  const control = new SharedArrayBuffer((CONTROL.size + threads) * 4);
  const ctl = new Int32Array(control);
  ctl[CONTROL.threads] = threads;
  const kernels = local as unknown as Record<string, (...a: number[]) => void>;
  const workers = Array.from({ length: threads - 1 }, (_, i) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, module, control, names: UNIT_KERNELS, at: CONTROL, self: i + 1 } });
    worker.unref(); // an idle pool never keeps the process alive
    return worker;
  });
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', (e) => reject(new UnsupportedError('nb-wasm worker threads', `a worker failed to start: ${String(e)}`)));
        }),
    ),
  );
  const start = () => {
    Atomics.store(ctl, CONTROL.done, 0);
    Atomics.add(ctl, CONTROL.sequence, 1);
    Atomics.notify(ctl, CONTROL.sequence);
  };
  return {
    threads,
    run(job) {
      writeJob(ctl, job);
      if (job.chunks <= 1) {
        runChunks(kernels, UNIT_KERNELS, ctl, CONTROL, 0);
        return;
      }
      start();
      try {
        runChunks(kernels, UNIT_KERNELS, ctl, CONTROL, 0);
      } finally {
        // Every worker answers each job, so waiting for all of them keeps the next job's count
        // clean. Poll first: the last chunks finish within µs of each other.
        const sleepAt = performance.now() + SPIN_MICROSECONDS / 1000;
        let polls = 0;
        for (let done = Atomics.load(ctl, CONTROL.done); done < workers.length; done = Atomics.load(ctl, CONTROL.done)) {
          if (++polls % POLLS_PER_CLOCK === 0 && performance.now() > sleepAt) Atomics.wait(ctl, CONTROL.done, done, 1);
        }
      }
      if (Atomics.exchange(ctl, CONTROL.failed, 0) !== 0) throw new UnsupportedError(`nb-wasm kernel ${job.kernel}`, 'it trapped in a worker thread');
    },
    async close() {
      ctl[CONTROL.kernel] = -1;
      start();
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
