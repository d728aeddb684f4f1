import { createReferenceEngine, type SyncEngine } from '@normbridge/core';
import { hostEngineOnTf } from '@normbridge/tfjs';
import { tfjsEngine } from '@normbridge/testing-engines';
import { leafValues } from '@normbridge/flax';

export { expectClose } from '@normbridge/testing';

/** An engine on tf tensors, with the tolerance its arithmetic warrants against float64 values. */
export interface EngineCase {
  readonly name: string;
  readonly engine: SyncEngine<any>;
  readonly atol: number;
}

let cached: Promise<EngineCase[]> | undefined;

/**
 * The engines the TF.js model code around a BatchNorm runs on: the float64 reference seen through
 * tf tensors, and `@normbridge/tfjs` on cpu and wasm (each also gives TF.js a backend and its gradients).
 */
export function engineCases(): Promise<EngineCase[]> {
  cached ??= (async () => {
    const cpu = await tfjsEngine('cpu');
    const wasm = await tfjsEngine('wasm');
    const cases: EngineCase[] = [
      { name: 'reference-on-tf', engine: hostEngineOnTf(createReferenceEngine()), atol: 2e-6 },
      { name: 'tfjs-cpu', engine: cpu, atol: 2e-5 },
      { name: 'tfjs-wasm', engine: wasm, atol: 2e-5 },
    ];
    return cases;
  })();
  return cached;
}

/** A TF.js backend with gradients for model code that needs no BatchNorm engine. */
export async function ensureTf(): Promise<void> {
  await tfjsEngine('cpu');
}

export const values = leafValues;
