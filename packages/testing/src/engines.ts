import { asAsyncEngine, createReferenceEngine, hostTensor, type AsyncEngine, type Engine, type HostTensor, type SyncEngine } from '@normbridge/core';

/** An engine under test, with the absolute tolerance its arithmetic warrants. */
export interface EngineCase {
  readonly name: string;
  readonly engine: SyncEngine<any>;
  /** Tolerance against float64 expectations: ~0 for the reference, float32 rounding for tfjs. */
  readonly atol: number;
  /** The tfjs backend the engine runs on (undefined for the reference). */
  readonly backend?: 'cpu' | 'wasm';
}

/**
 * The reference engine, plus `@normbridge/tfjs` on cpu and wasm once that package exports a
 * working `createTfjsEngine` (skipped, with a note, until then).
 */
export async function engineCases(): Promise<EngineCase[]> {
  const cases: EngineCase[] = [{ name: 'reference-f64', engine: createReferenceEngine(), atol: 1e-9 }];
  for (const backend of ['cpu', 'wasm'] as const) {
    const engine = await tryTfjs(backend);
    if (engine) cases.push({ name: `tfjs-${backend}`, engine, atol: 2e-6, backend });
  }
  return cases;
}

type TfjsFactory = (backend: 'cpu' | 'wasm') => Promise<Engine<unknown>> | Engine<unknown>;

export async function tryTfjs(backend: 'cpu' | 'wasm'): Promise<SyncEngine<any> | undefined> {
  let factory: TfjsFactory | undefined;
  try {
    // A non-literal specifier: typechecking must not depend on whether @normbridge/tfjs is built.
    const specifier: string = '@normbridge/tfjs';
    const mod = (await import(specifier)) as Record<string, unknown>;
    factory = typeof mod['createTfjsEngine'] === 'function' ? (mod['createTfjsEngine'] as TfjsFactory) : undefined;
  } catch {
    factory = undefined;
  }
  if (!factory) return undefined;
  try {
    const engine = await factory(backend);
    return engine.synchronous ? (engine as SyncEngine<any>) : undefined;
  } catch (e) {
    console.warn(`@normbridge/tfjs createTfjsEngine('${backend}') failed: ${String(e)}`);
    return undefined;
  }
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
