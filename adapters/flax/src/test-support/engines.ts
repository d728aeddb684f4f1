import {
  checkReshape,
  createReferenceEngine,
  hostRow,
  hostTensor,
  mapStateTensors,
  type AsyncEngine,
  type Engine,
  type HostTensor,
  type StepOptions,
  type SyncEngine,
} from '@normbridge/core';
import * as tf from '@tensorflow/tfjs-core';
import { engineCases as sharedEngineCases } from '@normbridge/testing-engines';
import { hostEngineOnTf } from '@normbridge/tfjs';
import { leafValues } from '../leaf.js';
import { ensureTf } from './tf.js';

export { asyncReference, expectClose, X43 } from '@normbridge/testing';

/** An engine under test, with the tolerance its arithmetic warrants against float64 values. */
export interface EngineCase {
  readonly name: string;
  readonly engine: SyncEngine<any>;
  /** Whether the engine's tensors are tf.Tensors (needed for Dense/relu models and tf.grad). */
  readonly tf: boolean;
  /** Absolute tolerance against float64 expectations. */
  readonly atol: number;
}

let cached: Promise<EngineCase[]> | undefined;

/**
 * The shared engine cases (`@normbridge/testing-engines`: the float64 reference, `@normbridge/tfjs`
 * on cpu and wasm, nb-wasm) plus the reference seen through tf tensors. The float32 engines get 2e-5 here:
 * the Flax suites chain several calls (models, training loops), each adding float32 rounding.
 */
export function engineCases(): Promise<EngineCase[]> {
  cached ??= (async () => {
    await ensureTf();
    const shared = await sharedEngineCases();
    const cases: EngineCase[] = [];
    for (const c of shared) {
      if (!c.float32) {
        cases.push({ name: c.name, engine: c.engine, tf: false, atol: c.atol });
        cases.push({ name: 'reference-on-tf', engine: hostEngineOnTf(createReferenceEngine()), tf: true, atol: 2e-6 });
      } else {
        cases.push({ name: c.name, engine: c.engine, tf: c.backend !== undefined, atol: 2e-5 });
      }
    }
    await ensureTf();
    return cases;
  })();
  return cached;
}

/** Uploads row-major values to an engine (float64 on the reference, float32 elsewhere). */
export function upload(engine: SyncEngine<any>, shape: readonly number[], data: readonly number[]): any {
  const f64 = engine.name === 'reference-f64';
  return engine.fromHost(hostTensor(shape, f64 ? Float64Array.from(data) : Float32Array.from(data)));
}

export function host(shape: readonly number[], data: readonly number[]): HostTensor {
  return hostTensor(shape, Float64Array.from(data));
}

export const values = leafValues;


/**
 * A tensor type that is neither a `HostTensor` nor a `tf.Tensor`, shaped like ONNX Runtime's:
 * the shape in `dims`, `reshape(dims)` a new handle on the same data, `dispose()` drops this
 * handle's data (using it afterwards throws, so a test sees any use of a disposed tensor).
 */
export class BoxTensor {
  #host: HostTensor | undefined;
  constructor(host: HostTensor) {
    this.#host = host;
  }
  get host(): HostTensor {
    if (!this.#host) throw new Error('BoxTensor used after dispose()');
    return this.#host;
  }
  get dims(): readonly number[] {
    return this.host.shape;
  }
  reshape(dims: readonly number[]): BoxTensor {
    const h = this.host;
    return new BoxTensor({ shape: [...dims], data: h.data, dtype: h.dtype });
  }
  dispose(): void {
    this.#host = undefined;
  }
}

/**
 * The float64 reference as an asynchronous engine on {@link BoxTensor}s: what the adapter sees
 * of ONNX Runtime (async calls, foreign tensors, disposal), with the reference's numbers.
 */
export function boxedAsyncReference(): AsyncEngine<BoxTensor> {
  const ref = createReferenceEngine();
  const box = (t: HostTensor) => new BoxTensor(t);
  const boxOpt = (t: HostTensor | undefined) => (t === undefined ? undefined : box(t));
  const un = (t: BoxTensor) => t.host;
  const unOptions = (o: StepOptions<BoxTensor> | undefined): StepOptions<HostTensor> | undefined =>
    o === undefined ? undefined : { ...o, mask: o.mask === undefined ? undefined : un(o.mask) };
  return {
    name: 'reference-f64-boxed-async',
    synchronous: false,
    capabilities: ref.capabilities,
    supports: (...a) => ref.supports(...a),
    fromHost: box,
    shapeOf: (t) => t.dims,
    owns: (v): v is BoxTensor => v instanceof BoxTensor,
    reshape: (t, shape) => (checkReshape(t.dims, shape), t.reshape(shape)),
    row: (t, index) => box(hostRow(un(t), index)),
    stateFromHost: (s) => mapStateTensors(ref.stateFromHost(s), box),
    dispose: (...ts) => {
      for (const t of ts) t?.dispose();
    },
    retain: (t) => t,
    toHost: async (t) => un(t),
    async train(spec, state, x, o) {
      const out = ref.train(spec, mapStateTensors(state, un), un(x), unOptions(o));
      return { y: box(out.y), batchMean: box(out.batchMean), batchVar: box(out.batchVar), state: mapStateTensors(out.state, box) };
    },
    evaluate: async (spec, state, x, o) => box(ref.evaluate(spec, mapStateTensors(state, un), un(x), unOptions(o))),
    async vjp(spec, state, x, dy, mode, o) {
      const g = ref.vjp(spec, mapStateTensors(state, un), un(x), un(dy), mode, unOptions(o));
      return { dx: box(g.dx), dScale: boxOpt(g.dScale), dBias: boxOpt(g.dBias) };
    },
  };
}

/** Values of any engine's tensor (awaits asynchronous engines). */
export async function valuesOf(engine: Engine<any>, t: unknown): Promise<number[]> {
  return Array.from((await engine.toHost(t)).data);
}
