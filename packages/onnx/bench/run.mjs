// Benchmark (not a test): BatchNorm train and eval forward on a [32, 56, 56, 64]-sized float32
// input, NCHW and NHWC, for the ORT engine, raw ORT (one hand-built BatchNormalization session
// run directly) and the tfjs engine (cpu). Median milliseconds with ratios to raw ORT.
// Run after `pnpm build` (it imports ../dist): `pnpm --filter @normbridge/onnx bench`.
import os from 'node:os';
import { defineSpec, initialState } from '@normbridge/core';
import * as ort from 'onnxruntime-node';
import { createOrtEngine } from '../dist/index.js';
import { GraphBuilder } from '../dist/proto/builder.js';

const N = 32, H = 56, W = 56, C = 64;
const LAYOUTS = [
  { name: 'NCHW', shape: [N, C, H, W], featureAxes: [1], rawShape: [N, C, H * W] },
  // The same memory as [N·H·W, C], which is how ONNX's axis-1 node can take it.
  { name: 'NHWC', shape: [N, H, W, C], featureAxes: [-1], rawShape: [N * H * W, C] },
];
const BUDGET_MS = 3000; // per measurement, after warm-up
const MAX_REPS = { fast: 25, slow: 5 };

function randomData(n, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a * 1664525 + 1013904223) >>> 0;
    out[i] = (a / 4294967296) * 4 - 1.5;
  }
  return out;
}

async function median(fn, maxReps) {
  const t0 = performance.now();
  await fn();
  // Calls of seconds (tfjs cpu on NCHW): one warm-up and one measured call keep the run short.
  if (performance.now() - t0 > 1500) maxReps = 1;
  else await fn();
  const times = [];
  const start = performance.now();
  while (times.length < maxReps && (times.length < 3 || performance.now() - start < BUDGET_MS)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** One BatchNormalization node, outputs read directly: the floor for any ORT-based engine. */
async function rawSession(shape, training) {
  const b = new GraphBuilder('float32');
  const x = b.input('X', b.elemType, shape);
  const inputs = [x, ...['scale', 'B', 'mean', 'var'].map((n) => b.input(n, b.elemType, [C]))];
  if (training) {
    const [y, rm, rv] = b.opN('BatchNormalization', inputs, ['Y', 'RM', 'RV'], { epsilon: { float: 1e-5 }, momentum: { float: 0.9 }, training_mode: 1 });
    b.output('Y', y); b.output('RM', rm); b.output('RV', rv);
  } else {
    b.output('Y', b.op('BatchNormalization', inputs, { epsilon: { float: 1e-5 } }));
  }
  return ort.InferenceSession.create(b.build().bytes, { logSeverityLevel: 3 });
}

async function loadTfjs() {
  try {
    const tfjs = await import('@normbridge/tfjs');
    return await tfjs.createTfjsEngine('cpu');
  } catch (e) {
    return { skipped: `@normbridge/tfjs is not built or not loadable (${e instanceof Error ? e.message.split('\n')[0] : e})` };
  }
}

/**
 * Medians of several contenders measured round-robin (one call of each per round), so that load
 * from other processes on a shared machine falls on all of them alike.
 */
async function interleavedMedians(fns, maxRounds) {
  for (const fn of Object.values(fns)) {
    await fn();
    await fn();
  }
  const times = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const start = performance.now();
  for (let r = 0; r < maxRounds && (r < 3 || performance.now() - start < BUDGET_MS * 2); r++) {
    for (const [k, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      await fn();
      times[k].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, ts]) => [k, ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]]));
}

const fmt = (ms) => (ms === undefined ? '—' : ms.toFixed(1).padStart(8));
const ratio = (ms, base) => (ms === undefined ? '' : `(${(ms / base).toFixed(2)}x)`.padStart(9));

async function main() {
  console.log(`normbridge ORT bench — float32, ${N}x${H}x${W}x${C}, node ${process.version}, ${os.cpus().length} cpus, onnxruntime-node ${ort.env.versions.node ?? ''}`);
  const engine = await createOrtEngine({ backend: 'node' });
  const primitive = await createOrtEngine({ backend: 'node', graph: 'primitive' });
  const tfjs = await loadTfjs();
  if (tfjs.skipped) console.log(`tfjs column skipped: ${tfjs.skipped}`);
  const rows = [];
  for (const layout of LAYOUTS) {
    const n = N * H * W * C;
    const data = randomData(n, 7);
    const spec = defineSpec({ featureAxes: layout.featureAxes, runningAverage: { kind: 'exponential', oldValueWeight: 0.9 } });
    const host = { shape: layout.shape, data, dtype: 'float32' };
    const hostState = initialState(spec, [C]);
    const param = (v) => new ort.Tensor('float32', new Float32Array(C).fill(v), [C]);
    const rawFeeds = { X: new ort.Tensor('float32', data, layout.rawShape), scale: param(1), B: param(0), mean: param(0), var: param(1) };
    for (const mode of ['train', 'eval']) {
      const raw = await rawSession(layout.rawShape, mode === 'train');
      const fns = { raw: () => raw.run(rawFeeds) };
      for (const [key, e] of [['engine', engine], ['primitive', primitive]]) {
        const x = e.fromHost(host);
        const state = e.stateFromHost(hostState);
        fns[key] = () => (mode === 'train' ? e.train(spec, state, x) : e.evaluate(spec, state, x));
      }
      const result = { layout: layout.name, mode, ...(await interleavedMedians(fns, MAX_REPS.fast)) };
      if (!tfjs.skipped) {
        const x = tfjs.fromHost(host);
        const state = tfjs.stateFromHost(hostState);
        result.tfjs = await median(() => {
          if (mode === 'eval') return tfjs.dispose(tfjs.evaluate(spec, state, x));
          const out = tfjs.train(spec, state, x);
          tfjs.dispose(out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar);
        }, MAX_REPS.slow);
        tfjs.dispose(x, state.scale, state.bias, state.runningMean, state.runningVar);
      }
      await raw.release();
      rows.push(result);
      console.log(`  measured ${layout.name} ${mode}`);
    }
  }
  await engine.release();
  await primitive.release();
  console.log('\nmedian ms (ratio to raw ORT)');
  console.log('layout mode  |  raw ORT |  ORT engine         | ORT engine, primitive | tfjs engine (cpu)');
  for (const r of rows) {
    console.log(
      `${r.layout.padEnd(6)} ${r.mode.padEnd(5)} | ${fmt(r.raw)} | ${fmt(r.engine)} ${ratio(r.engine, r.raw)} | ${fmt(r.primitive)} ${ratio(r.primitive, r.raw)}    | ${fmt(r.tfjs)} ${ratio(r.tfjs, r.raw)}`,
    );
  }
  console.log('\nraw ORT: NHWC runs the node on the same memory viewed as [N·H·W, C]; its training session keeps');
  console.log("ONNX's own running update (momentum attribute), the engine adds an exact update as ops.");
}

await main();
