/**
 * Worker threads that run the kernels' unit-range functions on parts of one tensor, over the
 * engine's shared memory. The calling thread takes part 0 itself, so `threads` = 2 means one
 * worker. Jobs are handed over through a small shared control block rather than messages: a
 * message costs a trip through the event loop (tens of µs); a futex wake-up costs a few.
 *
 * Control block (Int32Array): [sequence, done, failed, then one slot per worker:
 * kernel index + 1 (0: nothing to do, -1: stop), argument count, arguments...].
 */
import { UnsupportedError } from '@normbridge/core';
import { UNIT_KERNELS, type KernelExports, type UnitKernel } from './kernels.js';
import { importNodeBuiltin } from './runtime.js';

const SEQUENCE = 0;
const DONE = 1;
const FAILED = 2;
const HEADER = 3;
/** Slot size in int32s: kernel, count, and up to 14 arguments (the widest kernel takes 11). */
const SLOT = 16;
/**
 * How many times a thread polls a control word before it sleeps on the futex (tens of µs here):
 * a worker spans the gaps between the kernel calls of one layer step, so a step's second and
 * third kernels start without a wake-up (OpenMP's threads spin for the same reason); the
 * caller spans the few µs by which the parts finish apart.
 */
const SPIN_POLLS = 20_000;

// Plain JavaScript run by `new Worker(..., { eval: true })`: it must not refer to anything
// outside itself. It instantiates the kernels on the shared memory and runs jobs until told to stop.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { memory, module, control, index, names } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const slot = ${HEADER} + index * ${SLOT};
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  let polls = 0;
  while (Atomics.load(ctl, ${SEQUENCE}) === seen) {
    if (++polls > ${SPIN_POLLS}) { Atomics.wait(ctl, ${SEQUENCE}, seen); polls = 0; }
  }
  seen = Atomics.load(ctl, ${SEQUENCE});
  const kernel = ctl[slot];
  if (kernel < 0) break;
  if (kernel > 0) {
    try {
      kernels[names[kernel - 1]](...ctl.subarray(slot + 2, slot + 2 + ctl[slot + 1]));
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, 1);
    }
  }
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

/** One part of a job: the kernel's arguments for units [u0, u1). */
export type PartArguments = (u0: number, u1: number, part: number) => number[];

export interface ThreadPool {
  /** Threads in all, the calling one included. */
  readonly threads: number;
  /**
   * Runs `kernel` on `parts` parts of [0, units) (parts ≤ threads), the calling thread taking
   * the first; returns when every part is done.
   */
  run(kernel: UnitKernel, units: number, parts: number, args: PartArguments): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** Balanced split of [0, units) into `parts` ranges; part p is [start(p), start(p + 1)). */
export function partStart(units: number, parts: number, part: number): number {
  return Math.floor((units * part) / parts);
}

/** A pool of `threads - 1` Node worker threads sharing `memory` with the caller. */
export async function createThreadPool(
  threads: number,
  memory: WebAssembly.Memory,
  module: WebAssembly.Module,
  local: KernelExports,
): Promise<ThreadPool> {
  const { Worker } = await importNodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
  const control = new SharedArrayBuffer((HEADER + (threads - 1) * SLOT) * 4);
  const ctl = new Int32Array(control);
  const workers = Array.from({ length: threads - 1 }, (_, index) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, module, control, index, names: UNIT_KERNELS } });
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
  const signal = (fill: (slot: number, worker: number) => void) => {
    for (let w = 0; w < workers.length; w++) fill(HEADER + w * SLOT, w);
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQUENCE, 1);
    Atomics.notify(ctl, SEQUENCE);
  };
  return {
    threads,
    run(kernel, units, parts, args) {
      const call = (p: number) => args(partStart(units, parts, p), partStart(units, parts, p + 1), p);
      if (parts <= 1) {
        (local[kernel] as (...a: number[]) => void)(...call(0));
        return;
      }
      const code = UNIT_KERNELS.indexOf(kernel) + 1;
      signal((slot, w) => {
        const part = w + 1;
        if (part >= parts) {
          ctl[slot] = 0;
          return;
        }
        const a = call(part);
        ctl[slot] = code;
        ctl[slot + 1] = a.length;
        ctl.set(a, slot + 2);
      });
      try {
        (local[kernel] as (...a: number[]) => void)(...call(0));
      } finally {
        // Every worker answers each sequence step (those without a part at once), so waiting
        // for all of them keeps the next job's `done` count clean. The parts are equal, so the
        // workers finish about when this thread does: poll first, sleep only if they lag.
        let polls = 0;
        for (let done = Atomics.load(ctl, DONE); done < workers.length; done = Atomics.load(ctl, DONE)) {
          if (++polls > SPIN_POLLS) Atomics.wait(ctl, DONE, done, 1);
        }
      }
      if (Atomics.exchange(ctl, FAILED, 0) !== 0) throw new UnsupportedError(`nb-wasm kernel ${kernel}`, 'it trapped in a worker thread');
    },
    async close() {
      signal((slot) => (ctl[slot] = -1));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
