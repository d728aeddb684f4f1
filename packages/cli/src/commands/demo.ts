import {
  toHostAsync, hostTensor, initialState, referenceEval, referenceTrain, referenceVjp,
  type BatchNormSpec, type Engine, type HostState, type HostTensor,
} from '@normbridge/core';
import { torch } from '@normbridge/frameworks';
import { CPU_ENGINE_NAMES, createEngineByName, type EngineName } from '@normbridge/engines';
import { formatError, renderTable } from '../table.js';

/** PyTorch `BatchNorm2d(4)` semantics on NCHW input (the torch profile's): the spec the demo runs everywhere. */
const DEMO_SPEC: BatchNormSpec = torch.specFromArgs({}, {});
const SHAPE = [8, 4, 5, 5];

function seeded(seed: number, n: number, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2 + offset;
  }
  return out;
}

function maxAbs(a: HostTensor, b: HostTensor): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/** Runs three training steps, an eval and a gradient on one engine; returns worst errors. */
async function runOn(engine: Engine<any>): Promise<string[]> {
  const n = SHAPE.reduce((a, b) => a * b, 1);
  let refState: HostState = initialState(DEMO_SPEC, [4]);
  let state = engine.stateFromHost(refState);
  let trainErr = 0;
  let statsErr = 0;
  for (let step = 0; step < 3; step++) {
    const x = hostTensor(SHAPE, seeded(step + 1, n, step));
    const ref = referenceTrain(DEMO_SPEC, refState, x);
    const out = await engine.train(DEMO_SPEC, state, engine.fromHost(x));
    trainErr = Math.max(trainErr, maxAbs(await toHostAsync(engine, out.y), ref.y));
    statsErr = Math.max(
      statsErr,
      maxAbs(await toHostAsync(engine, out.state.runningMean), ref.state.runningMean!),
      maxAbs(await toHostAsync(engine, out.state.runningVar), ref.state.runningVar!),
    );
    refState = ref.state;
    state = out.state;
  }
  const x = hostTensor(SHAPE, seeded(99, n));
  const evalErr = maxAbs(await toHostAsync(engine, await engine.evaluate(DEMO_SPEC, state, engine.fromHost(x))), referenceEval(DEMO_SPEC, refState, x));
  let gradErr = 'n/a';
  if (engine.capabilities.gradients) {
    const dy = hostTensor(SHAPE, seeded(7, n));
    const g = await engine.vjp(DEMO_SPEC, state, engine.fromHost(x), engine.fromHost(dy), 'train');
    gradErr = formatError(maxAbs(await toHostAsync(engine, g.dx), referenceVjp(DEMO_SPEC, refState, x, dy, 'train').dx));
  }
  return [formatError(trainErr), formatError(statsErr), formatError(evalErr), gradErr];
}

export async function demo(engineNames: readonly EngineName[] = CPU_ENGINE_NAMES): Promise<string> {
  const rows: string[][] = [];
  for (const name of engineNames) {
    try {
      const engine = await createEngineByName(name);
      rows.push([name, ...(await runOn(engine))]);
    } catch (err) {
      rows.push([name, 'unavailable', '', '', `${(err as Error).message.split('\n')[0]}`]);
    }
  }
  return [
    'PyTorch BatchNorm2d(4) on NCHW [8,4,5,5]: 3 training steps, eval, gradient; max |engine - float64 reference|',
    renderTable(['engine', 'train output', 'running stats', 'eval output', 'input gradient'], rows),
  ].join('\n');
}
