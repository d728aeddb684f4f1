import { createReferenceEngine, type SyncEngine } from '@normbridge/core';
import { createTfjsEngine, type TfjsEngine } from '@normbridge/tfjs';
import { createWasmEngine, type WasmEngine } from '@normbridge/wasm';

/** An engine under test, with the absolute tolerance its arithmetic warrants. */
export interface EngineCase {
  readonly name: string;
  readonly engine: SyncEngine<any>;
  /** Tolerance against float64 expectations: ~0 for the reference, float32 rounding for the others. */
  readonly atol: number;
  /** Whether the engine computes in float32 (false only for the float64 reference). */
  readonly float32: boolean;
  /** The tfjs backend the engine runs on; undefined for engines whose tensors are not tf.Tensors (the reference, nb-wasm). */
  readonly backend?: 'cpu' | 'wasm';
}

/** Float32 rounding of one call, against float64 expectations. */
const FLOAT32_ATOL = 2e-6;

/**
 * The reference engine, `@normbridge/tfjs` on cpu and wasm, and `@normbridge/wasm` (nb-wasm, its
 * default threads): every adapter is tested on all four. An engine that fails to start rejects the
 * promise (and so fails the suite that asked for it): a missing engine is never a skipped case.
 */
export async function engineCases(): Promise<EngineCase[]> {
  const cases: EngineCase[] = [{ name: 'reference-f64', engine: createReferenceEngine(), atol: 1e-9, float32: false }];
  for (const backend of ['cpu', 'wasm'] as const) {
    cases.push({ name: `tfjs-${backend}`, engine: await tfjsEngine(backend), atol: FLOAT32_ATOL, float32: true, backend });
  }
  cases.push({ name: 'nb-wasm', engine: await wasmEngine(), atol: FLOAT32_ATOL, float32: true });
  return cases;
}

/** `@normbridge/tfjs` on a backend. A backend that fails to start fails the test that asked for it. */
export async function tfjsEngine(backend: 'cpu' | 'wasm'): Promise<TfjsEngine> {
  return createTfjsEngine(backend);
}

let nbWasm: Promise<WasmEngine> | undefined;

/**
 * `@normbridge/wasm` with its default threads, one per process (each engine starts its own worker
 * threads; they are unref'd, so a suite exits without closing it). Failing to start fails the test.
 */
export function wasmEngine(): Promise<WasmEngine> {
  nbWasm ??= createWasmEngine();
  return nbWasm;
}
