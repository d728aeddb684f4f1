import { asAsyncEngine, createReferenceEngine, hostTensor, type AsyncEngine, type HostTensor, type SyncEngine } from '@normbridge/core';
import { createTfjsEngine, type TfjsEngine } from '@normbridge/tfjs';

/** An engine under test, with the absolute tolerance its arithmetic warrants. */
export interface EngineCase {
  readonly name: string;
  readonly engine: SyncEngine<any>;
  /** Tolerance against float64 expectations: ~0 for the reference, float32 rounding for tfjs. */
  readonly atol: number;
  /** The tfjs backend the engine runs on (undefined for the reference). */
  readonly backend?: 'cpu' | 'wasm';
}

/** The reference engine and `@normbridge/tfjs` on cpu and wasm: every adapter is tested on all three. */
export async function engineCases(): Promise<EngineCase[]> {
  const cases: EngineCase[] = [{ name: 'reference-f64', engine: createReferenceEngine(), atol: 1e-9 }];
  for (const backend of ['cpu', 'wasm'] as const) {
    cases.push({ name: `tfjs-${backend}`, engine: await tfjsEngine(backend), atol: 2e-6, backend });
  }
  return cases;
}

/** `@normbridge/tfjs` on a backend. A backend that fails to start fails the test that asked for it. */
export async function tfjsEngine(backend: 'cpu' | 'wasm'): Promise<TfjsEngine> {
  return createTfjsEngine(backend);
}

/** Row-major values of an engine tensor as plain numbers. */
export function values(engine: SyncEngine<any>, t: unknown): number[] {
  return Array.from(engine.toHost(t).data);
}

export function upload(engine: SyncEngine<any>, shape: readonly number[], data: readonly number[]): any {
  return engine.fromHost(hostTensor(shape, Float32Array.from(data)));
}

export function host(shape: readonly number[], data: readonly number[]): HostTensor {
  return hostTensor(shape, Float32Array.from(data));
}

/** Element-wise |a - b| <= atol + rtol * |b|, with a readable failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
      throw new Error(`element ${i}: ${a} vs expected ${b} (|diff| ${Math.abs(a - b)} > ${atol + rtol * Math.abs(b)})`);
    }
  }
}

/** The reference engine behind an asynchronous interface, to exercise the Async code paths. */
export function asyncReference(): AsyncEngine<HostTensor> {
  return asAsyncEngine(createReferenceEngine(), 'reference-f64-async');
}
