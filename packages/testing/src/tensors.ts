import { asAsyncEngine, createReferenceEngine, hostTensor, type AsyncEngine, type HostTensor, type SyncEngine } from '@normbridge/core';

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

/** The reference engine behind an asynchronous interface, to exercise the Async code paths. */
export function asyncReference(): AsyncEngine<HostTensor> {
  return asAsyncEngine(createReferenceEngine(), 'reference-f64-async');
}

/** The worked example's input (docs/semantics.md#worked-example): N = 4 rows, C = 3 channels. */
export const X43 = [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2];
