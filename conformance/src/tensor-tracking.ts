import type { BatchNormState, Engine, Gradients, TrainOutput } from '@normbridge/core';

/** An engine that remembers every tensor it hands out, and the call that frees them all. */
export interface TrackedEngine {
  readonly engine: Engine<any>;
  /** Disposes every tensor the engine made since it was wrapped (each once). */
  disposeAll(): void;
  /** Tensors made so far and not yet disposed by {@link disposeAll}. */
  readonly live: number;
}

/**
 * Wraps an engine so that a conformance case can free everything it made: inputs uploaded by
 * the bindings, the layers' state and every result. On a GPU backend each one is a GPU
 * buffer, so a suite of hundreds of cases must not leave them to the garbage collector.
 * Everything else (name, capabilities, `synchronous`) is the engine's own.
 */
export function trackTensors(engine: Engine<any>): TrackedEngine {
  const made = new Set<unknown>();
  const keep = <T>(t: T): T => {
    if (t !== undefined && t !== null) made.add(t);
    return t;
  };
  const keepState = <S extends BatchNormState<any>>(s: S): S => {
    for (const t of [s.scale, s.bias, s.runningMean, s.runningVar]) keep(t);
    return s;
  };
  const keepTrain = (o: TrainOutput<any>) => {
    for (const t of [o.y, o.batchMean, o.batchVar]) keep(t);
    keepState(o.state);
    return o;
  };
  const keepGrads = (g: Gradients<any>) => {
    for (const t of [g.dx, g.dScale, g.dBias]) keep(t);
    return g;
  };
  const wrapped: Engine<any> = engine.synchronous
    ? {
        ...bound(engine),
        synchronous: true,
        toHost: (t) => engine.toHost(t),
        train: (...a) => keepTrain(engine.train(...a)),
        evaluate: (...a) => keep(engine.evaluate(...a)),
        vjp: (...a) => keepGrads(engine.vjp(...a)),
      }
    : {
        ...bound(engine),
        synchronous: false,
        toHost: (t) => engine.toHost(t),
        train: async (...a) => keepTrain(await engine.train(...a)),
        evaluate: async (...a) => keep(await engine.evaluate(...a)),
        vjp: async (...a) => keepGrads(await engine.vjp(...a)),
      };
  Object.assign(wrapped, {
    fromHost: (t: Parameters<Engine<any>['fromHost']>[0]) => keep(engine.fromHost(t)),
    stateFromHost: (s: Parameters<Engine<any>['stateFromHost']>[0]) => keepState(engine.stateFromHost(s)),
  });
  return {
    engine: wrapped,
    disposeAll() {
      engine.dispose(...made);
      made.clear();
    },
    get live() {
      return made.size;
    },
  };
}

/**
 * Opens a case (a fixture's layer or a model's program) on a tracked view of `engine` and
 * replays it; every tensor the case made is freed when it ends (GPU buffers on a GPU backend),
 * whether it failed to open, returned or threw. An error while opening goes to `openFailed`.
 */
export async function withTrackedCase<B extends { dispose(): void }, R>(
  engine: Engine<any>,
  open: (engine: Engine<any>) => Promise<B>,
  openFailed: (err: unknown) => R,
  replay: (bound: B) => Promise<R>,
): Promise<R> {
  const tracked = trackTensors(engine);
  let bound: B;
  try {
    bound = await open(tracked.engine);
  } catch (err) {
    tracked.disposeAll();
    return openFailed(err);
  }
  try {
    return await replay(bound);
  } finally {
    bound.dispose();
    tracked.disposeAll();
  }
}

/** The engine's own members (own properties and its class's getters and methods), bound to it. */
function bound(engine: Engine<any>): Engine<any> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (let o: object | null = engine; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || seen.has(key)) continue;
      seen.add(key);
      const v = (engine as unknown as Record<string, unknown>)[key];
      out[key] = typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(engine) : v;
    }
  }
  return out as unknown as Engine<any>;
}
